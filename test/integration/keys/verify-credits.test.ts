/**
 * `POST /api/v1/keys/verify` for resource servers, credits, per-key rate limits and per-scope
 * caps, over HTTP on both stores: every precise reason, and the status each maps to.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checksum, generateKey } from '../../../src/api-keys/format.ts';
import { type KeyWorld, keyWorld, stores } from './fixtures.ts';

describe.each(stores)('verification, credits and limits on the %s store', (_name, store) => {
  let w: KeyWorld;
  beforeAll(async () => {
    w = await keyWorld(store());
  });
  afterAll(() => w?.server.close());

  const verify = (body: unknown) => w.call('POST', '/api/v1/keys/verify', undefined, body);

  it('answers valid with workspace, key id, scopes, rate-limit and credit state', async () => {
    const k = await w.key({
      name: 'svc',
      scopes: ['videos:read', 'videos:write'],
      rateLimit: { requests: 100, windowSeconds: 60 },
    });
    const r = await verify({ key: k.secret, required_scopes: ['videos:read'] });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toMatchObject({
      valid: true,
      status: 200,
      workspace_id: w.a.id,
      key_id: k.id,
      name: 'svc',
      environment: 'live',
      scopes: ['videos:read', 'videos:write'],
      grant_all: false,
      rate_limit: { limit: 100, remaining: 99 },
      credits_remaining: null,
      metered: true,
    });
  });

  it('answers each precise reason: key_invalid, key_revoked, key_expired, insufficient_scope', async () => {
    const noise = await verify({ key: 'sk_live_definitely-not-a-key' });
    expect(noise.body).toMatchObject({ valid: false, error: 'key_invalid', status: 401 });
    const unknown = await verify({ key: generateKey('sk', 'live').key });
    expect(unknown.body).toMatchObject({ valid: false, error: 'key_invalid', status: 401 });
    expect(unknown.body.key_id).toBeUndefined();

    const revoked = await w.key({ name: 'r', scopes: ['videos:read'] });
    await w.call('POST', `/api/v1/keys/${revoked.id}/revoke`, w.a.admin);
    expect((await verify({ key: revoked.secret })).body).toMatchObject({
      valid: false,
      error: 'key_revoked',
      status: 401,
    });

    const expiring = await w.key({
      name: 'e',
      scopes: ['videos:read'],
      expiresAt: new Date(Date.now() + 300),
    });
    await new Promise((r) => setTimeout(r, 400));
    expect((await verify({ key: expiring.secret })).body).toMatchObject({
      valid: false,
      error: 'key_expired',
      status: 401,
    });

    const narrow = await w.key({ name: 'n', scopes: ['videos:read'] });
    const scope = await verify({ key: narrow.secret, required_scopes: ['videos:read', 'videos:write'] });
    expect(scope.body).toMatchObject({
      valid: false,
      error: 'insufficient_scope',
      status: 403,
      required_scopes: ['videos:read', 'videos:write'],
      missing_scopes: ['videos:write'],
    });
    // Refused uses are audited with the reason.
    await w.c.audit.flush();
    const trail = await w.call('GET', '/api/v1/audit?action=key.use_refused', w.a.admin);
    const reasons = trail.body.data.map((e: { reason: string }) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['key_revoked', 'key_expired', 'insufficient_scope']));
  });

  it('rate limits per key: 429 with Retry-After on the API, rate_limited with retry_after from verify', async () => {
    const k = await w.key({
      name: 'limited',
      scopes: ['api_keys:read'],
      rateLimit: { requests: 2, windowSeconds: 3600 },
    });
    expect((await w.call('GET', '/api/v1/keys', k.secret)).status).toBe(200);
    expect((await w.call('GET', '/api/v1/keys', k.secret)).status).toBe(200);
    const third = await w.call('GET', '/api/v1/keys', k.secret);
    expect(third.status).toBe(429);
    const retry = Number(third.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(3600);
    expect(third.body).toMatchObject({ error: 'rate_limited', retry_after: retry, limit: 2 });
    const v = await verify({ key: k.secret });
    expect(v.body).toMatchObject({ valid: false, error: 'rate_limited', status: 429, limit: 2 });
    expect(v.body.retry_after).toBeGreaterThan(0);
    // A flood of refusals is audited, but at most once a second per key.
    await Promise.all(Array.from({ length: 10 }, () => verify({ key: k.secret })));
    await w.c.audit.flush();
    const trail = await w.call('GET', '/api/v1/audit?action=key.use_refused&limit=200', w.a.admin);
    const mine = trail.body.data.filter(
      (e: { target: { id: string }; reason: string }) => e.target.id === k.id && e.reason === 'rate_limited',
    );
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(mine.length).toBeLessThanOrEqual(3);
  });

  it('caps a scope per key (emails:send at most N per window), grant-all keys included', async () => {
    const edit = await w.call('PATCH', '/api/v1/scopes/emails:send', w.a.admin, {
      cap: { limit: 2, window_seconds: 86_400 },
    });
    expect(edit.status).toBe(200);
    expect(edit.body.cap).toEqual({ limit: 2, window_seconds: 86_400 });
    const all = await w.key({ name: 'mailer', grantAll: true });
    expect((await verify({ key: all.secret, required_scopes: ['emails:send'] })).body.valid).toBe(true);
    expect((await verify({ key: all.secret, required_scopes: ['emails:send'] })).body.valid).toBe(true);
    const capped = await verify({ key: all.secret, required_scopes: ['emails:send'] });
    expect(capped.body).toMatchObject({
      valid: false,
      error: 'rate_limited',
      status: 429,
      scope: 'emails:send',
      limit: 2,
    });
    // Other scopes are not capped by it.
    expect((await verify({ key: all.secret, required_scopes: ['videos:read'] })).body.valid).toBe(true);
  });

  it('charges credits atomically: at zero 402 with credits_remaining 0; admins top up', async () => {
    const k = await w.key({ name: 'spender', scopes: ['videos:write', 'credits:read'] });
    const zero = await verify({ key: k.secret, required_scopes: ['videos:write'], cost: 1 });
    expect(zero.body).toMatchObject({
      valid: false,
      error: 'credits_exhausted',
      status: 402,
      credits_remaining: 0,
    });
    // The key may read the balance but not top it up.
    expect((await w.call('GET', '/api/v1/credits', k.secret)).body).toMatchObject({
      workspace_id: w.a.id,
      credits_remaining: 0,
    });
    const denied = await w.call('POST', '/api/v1/credits/top-up', k.secret, { amount: 5 });
    expect(denied.status).toBe(403);
    expect(denied.body.required_scopes).toEqual(['credits:manage']);
    const top = await w.call('POST', '/api/v1/credits/top-up', w.a.admin, { amount: 5 });
    expect(top.body).toEqual({ workspace_id: w.a.id, credits_remaining: 5 });
    expect((await w.call('POST', '/api/v1/credits/top-up', w.a.admin, { amount: 0 })).status).toBe(400);
    expect((await w.call('POST', '/api/v1/credits/top-up', w.a.admin, { amount: 1.5 })).status).toBe(400);
    // Ten concurrent charges of 1 against a balance of 5: exactly five succeed.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => verify({ key: k.secret, required_scopes: ['videos:write'], cost: 1 })),
    );
    expect(answers.filter((a) => a.body.valid)).toHaveLength(5);
    const spent = answers.filter((a) => !a.body.valid);
    for (const a of spent)
      expect(a.body).toMatchObject({ error: 'credits_exhausted', status: 402, credits_remaining: 0 });
    expect((await w.call('GET', '/api/v1/credits', w.a.admin)).body.credits_remaining).toBe(0);
    // A refused request costs nothing: a scope refusal does not charge.
    await w.call('POST', '/api/v1/credits/top-up', w.a.admin, { amount: 3 });
    await verify({ key: k.secret, required_scopes: ['emails:send'], cost: 2 });
    expect((await w.call('GET', '/api/v1/credits', w.a.admin)).body.credits_remaining).toBe(3);
    // Credits are per workspace: B's balance is its own.
    expect((await w.call('GET', '/api/v1/credits', w.b.admin)).body.credits_remaining).toBe(0);
  });

  it('cannot tell an unknown key from a wrong secret of a real key, by answer or by time', async () => {
    const real = await w.key({ name: 'target', scopes: ['videos:read'] });
    // Same prefix, environment and all but one random character of a real key, checksum fixed up.
    const head = real.secret.slice(0, -6);
    const flipped = head.slice(0, -1) + (head.endsWith('A') ? 'B' : 'A');
    const wrong = flipped + checksum(flipped);
    const unknown = generateKey('sk', 'live').key;
    const a = await verify({ key: wrong });
    const b = await verify({ key: unknown });
    expect(a.body).toEqual(b.body);
    expect(a.body).toEqual({ valid: false, error: 'key_invalid', message: 'Invalid API key.', status: 401 });
    const times: Record<'wrong' | 'unknown', number[]> = { wrong: [], unknown: [] };
    for (let i = 0; i < 60; i++) {
      for (const [kind, key] of [
        ['wrong', wrong],
        ['unknown', unknown],
      ] as const) {
        const t = performance.now();
        await verify({ key });
        times[kind].push(performance.now() - t);
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const ratio = median(times.wrong) / median(times.unknown);
    // Same code path (one digest look-up that misses): no systematic difference, only noise.
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('pinned to a workspace, treats keys of any other as unknown', async () => {
    const k = await w.key({ name: 'pinned', scopes: ['videos:read'] });
    expect((await verify({ key: k.secret, workspace_id: w.a.id })).body).toMatchObject({ valid: true });
    const other = await verify({ key: k.secret, workspace_id: w.b.id });
    expect(other.body).toEqual({
      valid: false,
      error: 'key_invalid',
      message: 'Invalid API key.',
      status: 401,
    });
  });

  it('answers bad verify input with 400', async () => {
    for (const body of [
      {},
      { key: 1 },
      { key: 'x', cost: -1 },
      { key: 'x', required_scopes: 'a' },
      { key: 'x', extra: true },
    ]) {
      expect((await verify(body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('reads the key from the body only: credential headers the caller forwards are not read', async () => {
    const body = await w.key({ name: 'in the body', scopes: ['videos:read'] });
    const header = await w.key({
      name: 'in a header',
      scopes: ['videos:read'],
      rateLimit: { requests: 1, windowSeconds: 60 },
    });
    for (const forwarded of <Record<string, string>[]>[
      { authorization: 'Bearer not-a-token-at-all' },
      { authorization: `Bearer ${header.secret}` },
      { 'x-api-key': header.secret },
      { authorization: 'DPoP nope', dpop: 'nope' },
    ]) {
      const r = await fetch(`${w.server.url}/api/v1/keys/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...forwarded },
        body: JSON.stringify({ key: body.secret }),
      });
      expect(r.status, JSON.stringify(forwarded)).toBe(200);
      expect(await r.json()).toMatchObject({ valid: true, key_id: body.id });
    }
    // The forwarded key was never used: its one request of the window is still there.
    expect((await verify({ key: header.secret })).body).toMatchObject({
      valid: true,
      rate_limit: { limit: 1, remaining: 0 },
    });
  });

  it('reads any body the rest of the API reads, with the same errors', async () => {
    const k = await w.key({ name: 'bodies', scopes: ['videos:read'] });
    const post = (headers: Record<string, string>, payload: string | Blob) =>
      fetch(`${w.server.url}/api/v1/keys/verify`, { method: 'POST', headers, body: payload });
    const json = JSON.stringify({ key: k.secret, required_scopes: ['videos:read'] });
    const gzipped = await post(
      { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      new Blob([new Uint8Array(gzipSync(json))]),
    );
    expect(await gzipped.json()).toMatchObject({ valid: true, key_id: k.id });
    const charset = await post({ 'content-type': 'application/json; charset=utf-8' }, json);
    expect(await charset.json()).toMatchObject({ valid: true, key_id: k.id });
    const notJson = await post({ 'content-type': 'application/json' }, '{"key":');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: 'invalid_json' });
    const huge = await post(
      { 'content-type': 'application/json' },
      JSON.stringify({ key: 'x'.repeat(200_000) }),
    );
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ error: 'payload_too_large' });
    // Chunked (no length given) and sent in pieces.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${w.server.url}/api/v1/keys/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(json.slice(0, 10));
      setTimeout(() => req.end(json.slice(10)), 50);
    });
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body)).toMatchObject({ valid: true, key_id: k.id });
    // A body cut off before its announced length: the connection ends, the server goes on.
    await new Promise<void>((resolve) => {
      const { hostname, port } = new URL(w.server.url);
      const socket = connect(Number(port), hostname, () => {
        socket.end(
          'POST /api/v1/keys/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            `Content-Length: ${json.length}\r\n\r\n${json.slice(0, 20)}`,
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    expect((await verify({ key: k.secret })).body).toMatchObject({ valid: true, key_id: k.id });
  });

  it('tells a well-formed key from noise by the published regex and checksum, offline', async () => {
    const { KEY_PATTERN, inspectKey } = await import('../../../src/api-keys/format.ts');
    const k = await w.key({ name: 'scan me', scopes: ['videos:read'] });
    const text = `deploy log: SECRET=${k.secret} and sk_live_${'a'.repeat(33)} end`;
    const found = [...text.matchAll(new RegExp(KEY_PATTERN, 'g'))].map((m) => m[0]);
    expect(found).toHaveLength(2);
    expect(found.filter((f) => inspectKey(f).ok)).toEqual([k.secret]);
  });
});
