/**
 * The exported `requireKey` in a real Koa app and a real Express app on loopback, in front of a
 * real Gatehouse: keys in each header, JWT access tokens against the JWKS, 401/402/403/429 as
 * Gatehouse answers them, the cache, and revocations learned through the feed within the bound.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseVerifier, requireKey } from '../../../src/middleware/index.ts';
import { call, type KeyWorld, keyWorld } from './fixtures.ts';

interface App {
  url: string;
  close(): Promise<void>;
}

function listen(server: Server): Promise<App> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

let w: KeyWorld;
let verifier: GatehouseVerifier;
let koaApp: App;
let expressApp: App;
const POLL_MS = 200;
const TTL_MS = 3000;

beforeAll(async () => {
  w = await keyWorld({ kind: 'embedded' });
  await w.c.workspaces.update(w.a.id, { settings: { api_key_header: 'X-Acme-Key' } });
  verifier = new GatehouseVerifier({
    gatehouseUrl: w.server.url,
    cacheTtlMs: TTL_MS,
    revocationPollMs: POLL_MS,
    keyHeader: 'X-Acme-Key',
  });
  const read = requireKey({ verifier, scopes: ['videos:read'] });
  const write = requireKey({ verifier, scopes: ['videos:write'], cost: 2 });

  const k = new Koa();
  k.use(async (ctx, next) => {
    if (ctx.path === '/videos') return read(ctx, next);
    if (ctx.path === '/render') return write(ctx, next);
    return next();
  });
  k.use((ctx) => {
    ctx.body = { ok: true, who: ctx.state.gatehouse };
  });
  koaApp = await listen(createServer(k.callback()));

  const e = express();
  e.get('/videos', read, (req, res) => {
    res.json({ ok: true, who: (req as unknown as { gatehouse: unknown }).gatehouse });
  });
  e.post('/render', write, (req, res) => {
    res.json({ ok: true, who: (req as unknown as { gatehouse: unknown }).gatehouse });
  });
  expressApp = await listen(createServer(e));
  // Let the feed answer once, so that the cache is in use.
  await verifier.pollNow();
});

afterAll(async () => {
  verifier?.close();
  await koaApp?.close();
  await expressApp?.close();
  await w?.server.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['Koa', () => koaApp],
  ['Express', () => expressApp],
])('requireKey in a %s app', (_name, app) => {
  const get = (path: string, cred?: Parameters<typeof call>[3], method = 'GET') =>
    call(app().url, method, path, cred);

  it('lets a key with the scope through, in each header, and names the caller', async () => {
    const k = await w.key({ name: 'app', scopes: ['videos:read'] });
    for (const cred of [
      k.secret,
      { header: 'x-api-key', value: k.secret },
      { header: 'X-Acme-Key', value: k.secret },
    ]) {
      const r = await get('/videos', cred);
      expect(r.status).toBe(200);
      expect(r.body.who).toMatchObject({
        kind: 'api_key',
        workspaceId: w.a.id,
        clientId: k.id,
        scopes: ['videos:read'],
      });
    }
    // Served from the cache now.
    expect((await get('/videos', k.secret)).body.who.cached).toBe(true);
  });

  it('answers 401 with WWW-Authenticate, 403 with required_scopes, 402 with credits_remaining 0', async () => {
    const none = await get('/videos');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const bad = await get('/videos', 'sk_live_nope');
    expect(bad.status).toBe(401);
    const k = await w.key({ name: 'reader', scopes: ['videos:read'] });
    const forbidden = await get('/render', k.secret, 'POST');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body).toMatchObject({ error: 'insufficient_scope', required_scopes: ['videos:write'] });
    const writer = await w.key({ name: 'writer', scopes: ['videos:write'] });
    const broke = await get('/render', writer.secret, 'POST');
    expect(broke.status).toBe(402);
    expect(broke.body).toMatchObject({ error: 'credits_exhausted', credits_remaining: 0 });
    await w.c.apiKeys.credits.topUp(w.a.id, 2);
    expect((await get('/render', writer.secret, 'POST')).status).toBe(200);
    expect((await get('/render', writer.secret, 'POST')).status).toBe(402);
  });

  it('answers 429 with Retry-After for a rate-limited key (never cached)', async () => {
    const k = await w.key({
      name: 'limited',
      scopes: ['videos:read'],
      rateLimit: { requests: 2, windowSeconds: 3600 },
    });
    expect((await get('/videos', k.secret)).status).toBe(200);
    expect((await get('/videos', k.secret)).body.who.cached).toBe(false);
    const r = await get('/videos', k.secret);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('learns of a revocation through the feed well within the cache TTL', async () => {
    const k = await w.key({ name: 'to revoke', scopes: ['videos:read'] });
    expect((await get('/videos', k.secret)).status).toBe(200);
    expect((await get('/videos', k.secret)).body.who.cached).toBe(true);
    const at = Date.now();
    await w.c.apiKeys.revoke(w.a.id, k.id);
    let status = 200;
    while (status === 200 && Date.now() - at < TTL_MS + 1000) {
      status = (await get('/videos', k.secret)).status;
      if (status === 200) await sleep(20);
    }
    const took = Date.now() - at;
    expect(status).toBe(401);
    expect(took).toBeLessThan(POLL_MS * 3 + 500);
  });

  it('drops a cached key after a scope edit and after a rotation', async () => {
    const k = await w.key({ name: 'edited', scopes: ['videos:read'] });
    expect((await get('/videos', k.secret)).status).toBe(200);
    await w.c.apiKeys.update(w.a.id, k.id, { scopes: ['videos:write'] }, { scopes: 'all' });
    await sleep(POLL_MS * 3);
    expect((await get('/videos', k.secret)).status).toBe(403);
    const r = await w.c.apiKeys.rotate(w.a.id, k.id, {}, { scopes: 'all' });
    await sleep(POLL_MS * 3);
    expect((await get('/videos', k.secret)).status).toBe(401);
    expect((await get('/render', r.secret, 'POST')).status).not.toBe(401);
  });

  it('verifies JWT access tokens against the JWKS (issuer, audience, expiry, scopes)', async () => {
    const user = await w.c.accounts.createUser({
      email: `u${Math.random()}@example.com`,
      password: 'a long password',
    });
    await w.c.workspaces.addMember(w.a.id, user.id, 'member');
    const withScope = await w.c.tokens.issueForUser({
      userId: user.id,
      workspaceId: w.a.id,
      scopes: ['videos:read'],
    });
    const r = await get('/videos', withScope.access_token);
    expect(r.status).toBe(200);
    expect(r.body.who).toMatchObject({ kind: 'access_token', workspaceId: w.a.id, subject: user.id });
    const without = await w.c.tokens.issueForUser({ userId: user.id, workspaceId: w.a.id });
    const refused = await get('/videos', without.access_token);
    expect(refused.status).toBe(403);
    expect(refused.body.required_scopes).toEqual(['videos:read']);
    const parts = withScope.access_token.split('.');
    const tampered = `${parts[0]}.${parts[1]}x.${parts[2]}`;
    expect((await get('/videos', tampered)).status).toBe(401);
  });
});

describe('the verifier on its own', () => {
  it('answers 503 (not a crash) when Gatehouse cannot be reached, and never caches then', async () => {
    const v = new GatehouseVerifier({ gatehouseUrl: 'http://127.0.0.1:9', revocationPollMs: 0 });
    const k = await w.key({ name: 'offline', scopes: ['videos:read'] });
    const r = await v.check({ authorization: `Bearer ${k.secret}` }, { scopes: ['videos:read'] });
    expect(r).toMatchObject({ ok: false, status: 503 });
    expect(v.size).toBe(0);
    v.close();
  });

  it('pinned to a workspace, refuses keys and access tokens of another', async () => {
    const v = new GatehouseVerifier({ gatehouseUrl: w.server.url, revocationPollMs: 0, workspaceId: w.b.id });
    const k = await w.key({ name: 'a key', scopes: ['videos:read'] });
    expect(await v.check({ authorization: `Bearer ${k.secret}` })).toMatchObject({ ok: false, status: 401 });
    expect((await v.check({ authorization: `Bearer ${w.b.admin}` })).ok).toBe(true);
    const user = await w.c.accounts.createUser({
      email: `p${Math.random()}@example.com`,
      password: 'a long password',
    });
    await w.c.workspaces.addMember(w.a.id, user.id, 'member');
    const t = await w.c.tokens.issueForUser({ userId: user.id, workspaceId: w.a.id });
    expect(await v.check({ authorization: `Bearer ${t.access_token}` })).toMatchObject({
      ok: false,
      status: 401,
    });
    v.close();
  });

  it('without the feed, bounds a stale answer by the TTL', async () => {
    const v = new GatehouseVerifier({ gatehouseUrl: w.server.url, revocationPollMs: 0, cacheTtlMs: 500 });
    const k = await w.key({ name: 'ttl', scopes: ['videos:read'] });
    const h = { authorization: `Bearer ${k.secret}` };
    expect((await v.check(h)).ok).toBe(true);
    await w.c.apiKeys.revoke(w.a.id, k.id);
    // Within the TTL the cached answer may still be used; after it, never.
    await sleep(600);
    expect(await v.check(h)).toMatchObject({ ok: false, status: 401, body: { error: 'key_revoked' } });
    v.close();
  });
});
