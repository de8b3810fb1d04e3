/**
 * Two Gatehouse processes on one MongoDB: this test's server and a second one as a real child
 * process, both without a key-record cache (API_KEY_CACHE_MS=0): a revocation on one is refused
 * by the other on the very next request, the middleware in front of the second learns it within
 * its bound, and rotations racing across both processes leave exactly one valid secret. Then, as
 * shipped (a 1 s record cache), a revocation elsewhere within that bound.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { GatehouseVerifier } from '../../../src/middleware/index.ts';
import { mongoUriWithDb } from '../../helpers/server.ts';
import { call, type KeyWorld, keyWorld } from './fixtures.ts';
import { type ChildGatehouse, spawnGatehouse } from './processes.ts';

const EXACT = { API_KEY_CACHE_MS: '0' };
let w: KeyWorld;
let other: ChildGatehouse;

beforeAll(async () => {
  const uri = mongoUriWithDb(inject('mongoUri'));
  w = await keyWorld({ kind: 'mongo', uri }, EXACT);
  other = await spawnGatehouse(uri, EXACT);
}, 90_000);

afterAll(async () => {
  await other?.stop();
  await w?.server.close();
});

const use = (base: string, secret: string) => call(base, 'GET', '/api/v1/scopes', secret);

it('without the record cache, a key revoked on one process is refused by the other on the next request', async () => {
  for (let i = 0; i < 5; i++) {
    const k = await w.key({ name: `k${i}`, scopes: ['api_keys:read'] });
    expect((await use(other.url, k.secret)).status).toBe(200);
    const r = await call(w.server.url, 'POST', `/api/v1/keys/${k.id}/revoke`, w.a.admin);
    expect(r.status).toBe(200);
    const next = await use(other.url, k.secret);
    expect(next.status).toBe(401);
    expect(next.body.error).toBe('key_revoked');
  }
  // And the other way round, for a scope edit.
  const k = await w.key({ name: 'edited', scopes: ['api_keys:read'] });
  expect((await use(w.server.url, k.secret)).status).toBe(200);
  await call(other.url, 'PATCH', `/api/v1/keys/${k.id}`, w.a.admin, { scopes: ['videos:read'] });
  expect((await use(w.server.url, k.secret)).status).toBe(403);
});

it('the middleware in front of process 2 learns of a revocation on process 1 within its bound', async () => {
  const pollMs = 250;
  const v = new GatehouseVerifier({ gatehouseUrl: other.url, revocationPollMs: pollMs, cacheTtlMs: 10_000 });
  try {
    await v.pollNow();
    const k = await w.key({ name: 'cached', scopes: ['videos:read'] });
    const h = { authorization: `Bearer ${k.secret}` };
    expect((await v.check(h)).ok).toBe(true);
    expect(await v.check(h)).toMatchObject({ ok: true, principal: { cached: true } });
    const at = Date.now();
    await call(w.server.url, 'POST', `/api/v1/keys/${k.id}/revoke`, w.a.admin);
    let r = await v.check(h);
    while (r.ok && Date.now() - at < 10_000) {
      await new Promise((res) => setTimeout(res, 10));
      r = await v.check(h);
    }
    expect(r).toMatchObject({ ok: false, status: 401 });
    // Documented bound: poll interval + one round trip (well under the 10 s TTL).
    expect(Date.now() - at).toBeLessThan(pollMs * 2 + 500);
  } finally {
    v.close();
  }
});

it('rotations racing across both processes leave exactly one valid secret', async () => {
  const k = await w.key({ name: 'raced', scopes: ['api_keys:read'] });
  const answers = await Promise.all(
    [w.server.url, other.url, w.server.url, other.url].map((base) =>
      call(base, 'POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin, {}),
    ),
  );
  const won = answers.filter((a) => a.status === 200);
  expect(won.length).toBeGreaterThanOrEqual(1);
  for (const a of answers) expect([200, 409]).toContain(a.status);
  const valid: string[] = [];
  for (const s of [k.secret, ...won.map((a) => a.body.secret as string)]) {
    if ((await use(other.url, s)).status === 200) valid.push(s);
  }
  expect(valid).toHaveLength(1);
});

it('as shipped, a process caching key records (1 s) learns of a revocation elsewhere within its bound', async () => {
  const uri = mongoUriWithDb(inject('mongoUri'));
  const cacheMs = 1000; // the default API_KEY_CACHE_MS: polls every 500 ms
  const cached = await spawnGatehouse(uri);
  const plain = await spawnGatehouse(uri, EXACT);
  try {
    // A workspace and keys in this database, made through the plain process's store by a fresh world.
    const world = await keyWorld({ kind: 'mongo', uri });
    try {
      for (let i = 0; i < 3; i++) {
        const k = await world.key({ name: `c${i}`, scopes: ['api_keys:read'] });
        expect((await use(cached.url, k.secret)).status).toBe(200);
        expect((await use(cached.url, k.secret)).status).toBe(200);
        const at = Date.now();
        expect((await call(plain.url, 'POST', `/api/v1/keys/${k.id}/revoke`, world.a.admin)).status).toBe(
          200,
        );
        let status = 200;
        while (status === 200 && Date.now() - at < 5000) {
          status = (await use(cached.url, k.secret)).status;
          if (status === 200) await new Promise((r) => setTimeout(r, 20));
        }
        expect(status).toBe(401);
        expect(Date.now() - at).toBeLessThan(cacheMs / 2 + 1000);
      }
      // A revocation through the caching process itself applies to its very next request.
      const k = await world.key({ name: 'local', scopes: ['api_keys:read'] });
      expect((await use(cached.url, k.secret)).status).toBe(200);
      expect((await call(cached.url, 'POST', `/api/v1/keys/${k.id}/revoke`, world.a.admin)).status).toBe(200);
      expect((await use(cached.url, k.secret)).status).toBe(401);
      // So does a rotation (old secret out at once) and a scope edit.
      const r = await world.key({ name: 'rot', scopes: ['api_keys:read'] });
      expect((await use(cached.url, r.secret)).status).toBe(200);
      const rotated = await call(cached.url, 'POST', `/api/v1/keys/${r.id}/rotate`, world.a.admin, {});
      expect((await use(cached.url, r.secret)).status).toBe(401);
      expect((await use(cached.url, rotated.body.secret)).status).toBe(200);
      await call(cached.url, 'PATCH', `/api/v1/keys/${r.id}`, world.a.admin, { scopes: ['videos:read'] });
      expect((await use(cached.url, rotated.body.secret)).status).toBe(403);
    } finally {
      await world.server.close();
    }
  } finally {
    await cached.stop();
    await plain.stop();
  }
}, 120_000);

it("the middleware does not re-cache a Gatehouse process's stale answer after the feed named the key", async () => {
  const uri = mongoUriWithDb(inject('mongoUri'));
  // B caches key records (as shipped, 1 s; it learns of changes elsewhere every 500 ms).
  const b = await spawnGatehouse(uri);
  const world = await keyWorld({ kind: 'mongo', uri }, EXACT);
  const v = new GatehouseVerifier({ gatehouseUrl: b.url, revocationPollMs: 60_000, cacheTtlMs: 60_000 });
  try {
    await v.pollNow();
    for (let i = 0; i < 3; i++) {
      const k = await world.key({ name: `stale${i}`, scopes: ['videos:read'] });
      const h = { authorization: `Bearer ${k.secret}` };
      expect(await v.check(h)).toMatchObject({ ok: true, principal: { cached: false } });
      expect(await v.check(h)).toMatchObject({ ok: true, principal: { cached: true } });
      // Revoked through the other process; the middleware reads the feed at once and drops the
      // key, then asks B, which may still hold the record for up to its bound.
      const at = Date.now();
      await call(world.server.url, 'POST', `/api/v1/keys/${k.id}/revoke`, world.a.admin);
      await v.pollNow();
      let r = await v.check(h);
      while (r.ok && Date.now() - at < 5000) {
        await new Promise((res) => setTimeout(res, 20));
        r = await v.check(h);
      }
      expect(r).toMatchObject({ ok: false, status: 401 });
      // Within B's bound (1 s), not the middleware's 60 s TTL of a stale answer re-cached.
      expect(Date.now() - at).toBeLessThan(1500);
    }
  } finally {
    v.close();
    await world.server.close();
    await b.stop();
  }
}, 120_000);
