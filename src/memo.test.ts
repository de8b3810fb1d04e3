import { describe, expect, it } from 'vitest';
import { Memo, whenReady } from './memo.ts';

describe('Memo', () => {
  it('serves a value for ttlMs, then loads it again; a failed load is not kept', async () => {
    let now = 0;
    let loads = 0;
    let fail = false;
    const memo = new Memo({ now: () => new Date(now) }, 1000, async (k) => {
      loads++;
      if (fail) throw new Error('down');
      return `${k}:${loads}`;
    });
    expect(await memo.get('a')).toBe('a:1');
    now = 999;
    expect(await memo.get('a')).toBe('a:1');
    now = 1000;
    expect(await memo.get('a')).toBe('a:2');
    fail = true;
    now = 5000;
    await expect(memo.get('a')).rejects.toThrow('down');
    fail = false;
    expect(await memo.get('a')).toBe('a:4');
    memo.forget('a');
    expect(await memo.get('a')).toBe('a:5');
  });

  it('answers `now` without a promise once a fresh value is loaded', async () => {
    let now = 0;
    let loads = 0;
    const memo = new Memo({ now: () => new Date(now) }, 1000, async (k) => `${k}:${++loads}`);
    const first = memo.now('a');
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe('a:1');
    expect(memo.now('a')).toBe('a:1');
    now = 1000;
    const reloaded = memo.now('a');
    expect(reloaded).toBeInstanceOf(Promise);
    expect(await reloaded).toBe('a:2');
    expect(memo.now('a')).toBe('a:2');
  });
});

describe('whenReady', () => {
  it('applies at once to a value, and after it to a promise', async () => {
    expect(whenReady(2, (n) => n + 1)).toBe(3);
    const later = whenReady(Promise.resolve(2), (n) => n + 1);
    expect(later).toBeInstanceOf(Promise);
    expect(await later).toBe(3);
  });
});
