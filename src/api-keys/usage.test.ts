import { describe, expect, it } from 'vitest';
import { UsageTracker, type Use } from './usage.ts';

describe('coalesced last-used tracking', () => {
  it('writes each key once per flush with its latest use, however many uses came in', async () => {
    const writes: [string, Use][] = [];
    const t = new UsageTracker(async (id, use) => void writes.push([id, use]), 60_000);
    for (let i = 0; i < 100; i++) t.record('key_a', { at: new Date(1000 + i), ip: `10.0.0.${i}` });
    t.record('key_b', { at: new Date(5), ip: null });
    // an older use arriving late does not replace the newer one
    t.record('key_a', { at: new Date(1), ip: 'old' });
    expect(writes).toEqual([]);
    expect(t.pending('key_a')).toEqual({ at: new Date(1099), ip: '10.0.0.99' });
    await t.flush();
    expect(writes).toEqual([
      ['key_a', { at: new Date(1099), ip: '10.0.0.99' }],
      ['key_b', { at: new Date(5), ip: null }],
    ]);
    expect(t.size).toBe(0);
    await t.flush();
    expect(writes).toHaveLength(2);
    await t.close();
  });

  it('flushes on its own every interval', async () => {
    const writes: string[] = [];
    const t = new UsageTracker(async (id) => void writes.push(id), 20);
    t.record('key_a', { at: new Date(), ip: null });
    await new Promise((r) => setTimeout(r, 80));
    expect(writes).toEqual(['key_a']);
    await t.close();
  });

  it('reports a failed write and keeps going', async () => {
    const errors: string[] = [];
    const t = new UsageTracker(
      async (id) => {
        if (id === 'key_bad') throw new Error('store down');
      },
      60_000,
      (id) => errors.push(id),
    );
    t.record('key_bad', { at: new Date(), ip: null });
    t.record('key_ok', { at: new Date(), ip: null });
    await t.close();
    expect(errors).toEqual(['key_bad']);
  });
});
