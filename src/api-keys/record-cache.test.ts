import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord } from './model.ts';
import { RecordCache } from './record-cache.ts';

/** A repository that counts its reads and answers from a map the test changes. */
function repo() {
  const records = new Map<string, ApiKeyRecord>();
  let reads = 0;
  return {
    records,
    reads: () => reads,
    async byDigest(digest: string) {
      reads++;
      const record = records.get(digest);
      return record ? { record, previous: false } : null;
    },
  };
}

const record = (id: string, revoked = false) =>
  ({ id, revokedAt: revoked ? new Date(0) : null }) as ApiKeyRecord;

describe('RecordCache as the store’s only writer', () => {
  it('answers repeated look-ups from memory, and reads again once told of a change', async () => {
    const r = repo();
    const cache = new RecordCache(r, { ttlMs: 60_000, now: () => 0 });
    r.records.set('d1', record('key_1'));
    for (let i = 0; i < 3; i++) expect((await cache.lookUp('d1', new Date()))?.record.id).toBe('key_1');
    expect(r.reads()).toBe(1);
    r.records.set('d1', record('key_1', true));
    cache.forget('key_1');
    expect((await cache.lookUp('d1', new Date()))?.record.revokedAt).toEqual(new Date(0));
    expect(r.reads()).toBe(2);
  });

  it('does not keep misses, nor a read that overlapped a change', async () => {
    const r = repo();
    const cache = new RecordCache(r, { ttlMs: 60_000, now: () => 0 });
    expect(await cache.lookUp('d2', new Date())).toBeNull();
    r.records.set('d2', record('key_2'));
    expect((await cache.lookUp('d2', new Date()))?.record.id).toBe('key_2');
    expect(r.reads()).toBe(2);

    r.records.set('d3', record('key_3'));
    const overlapping = cache.lookUp('d3', new Date());
    cache.forget('key_3'); // a change lands while the read is in flight
    await overlapping;
    await cache.lookUp('d3', new Date());
    expect(r.reads()).toBe(4);
  });

  it('lets an entry go after ttlMs', async () => {
    const r = repo();
    let now = 0;
    const cache = new RecordCache(r, { ttlMs: 1000, now: () => now });
    r.records.set('d4', record('key_4'));
    await cache.lookUp('d4', new Date());
    now = 999;
    await cache.lookUp('d4', new Date());
    expect(r.reads()).toBe(1);
    now = 1000;
    await cache.lookUp('d4', new Date());
    expect(r.reads()).toBe(2);
  });
});
