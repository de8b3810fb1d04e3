/**
 * `GET /api/v1/keys/revocations`, the feed resource servers poll: changed keys by opaque tag
 * since a time, and how long a Gatehouse process may still answer for a changed key from its own
 * record cache (`record_cache_ms`), on both stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeTag } from '../../../src/api-keys/feed.ts';
import { type KeyWorld, keyWorld, stores } from './fixtures.ts';

describe.each([
  ...stores.map(([name, store]) => [name, store, {}, name === 'mongo' ? 1000 : 0] as const),
  ['mongo without record cache', stores[1]![1], { API_KEY_CACHE_MS: '0' }, 0] as const,
])('the revocation feed on the %s store', (_name, store, env, recordCacheMs) => {
  let w: KeyWorld;

  beforeAll(async () => {
    w = await keyWorld(store(), env);
  }, 60_000);

  afterAll(async () => {
    await w?.server.close();
  });

  it('names revoked, rotated and edited keys by tag, and states the record cache bound', async () => {
    const start = await w.call('GET', '/api/v1/keys/revocations');
    expect(start.status).toBe(200);
    expect(start.headers.get('cache-control')).toBe('no-store');
    expect(start.body).toMatchObject({ changes: [], complete: true, record_cache_ms: recordCacheMs });
    const since = start.body.until as number;
    const [revoked, rotated, edited, untouched] = await Promise.all(
      ['r', 'o', 'e', 'u'].map((name) => w.key({ name, scopes: ['videos:read'] })),
    );
    await w.call('POST', `/api/v1/keys/${revoked!.id}/revoke`, w.a.admin);
    await w.call('POST', `/api/v1/keys/${rotated!.id}/rotate`, w.a.admin, {});
    await w.call('PATCH', `/api/v1/keys/${edited!.id}`, w.a.admin, { scopes: ['videos:write'] });
    const feed = await w.call('GET', `/api/v1/keys/revocations?since=${since}`);
    expect(feed.status).toBe(200);
    expect(feed.body.record_cache_ms).toBe(recordCacheMs);
    const tags = feed.body.changes.map((ch: { tag: string }) => ch.tag);
    for (const k of [revoked, rotated, edited]) expect(tags).toContain(changeTag(k!.id));
    // Tags only: no key id, and keys created but never changed are not listed.
    expect(tags).not.toContain(changeTag(untouched!.id));
    expect(JSON.stringify(feed.body)).not.toContain(revoked!.id);
    // Too far back, or not a time: the reader must start over.
    for (const q of [`since=${since - 11 * 60_000}`, 'since=yesterday']) {
      const bad = await w.call('GET', `/api/v1/keys/revocations?${q}`);
      expect(bad.status, q).toBe(400);
      expect(bad.body.error).toBe('invalid_request');
    }
  });
});
