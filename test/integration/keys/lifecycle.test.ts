/**
 * The key lifecycle of the seeds through the HTTP API, on both stores against a real server:
 * create (secret once), format, list/filter/paginate, edit (effective on the next request),
 * revoke (next request 401), rotate with and without grace, concurrent rotations, temporary and
 * expired keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_PATTERN } from '../../../src/api-keys/format.ts';
import { type KeyWorld, keyWorld, stores } from './fixtures.ts';

const KEY_RE = new RegExp(`^${KEY_PATTERN}$`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(stores)('API key lifecycle over HTTP on the %s store', (_name, store) => {
  let w: KeyWorld;
  beforeAll(async () => {
    w = await keyWorld(store());
  });
  afterAll(() => w?.server.close());

  /** A request "using" a key on Gatehouse's own API: reading the scopes catalogue needs api_keys:read. */
  const use = (secret: string) => w.call('GET', '/api/v1/scopes', secret);

  it('creates a key whose secret is shown once, in the published format, stored only as a hint', async () => {
    const r = await w.call('POST', '/api/v1/keys', w.a.admin, {
      name: 'reporting dashboard',
      environment: 'test',
      scopes: ['videos:read', 'api_keys:read'],
      metadata: { team: 'bi' },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toBe(`/api/v1/keys/${r.body.id}`);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body.secret).toMatch(KEY_RE);
    expect(r.body.secret).toMatch(/^sk_test_/);
    expect(r.body).toMatchObject({
      object: 'api_key',
      workspace_id: w.a.id,
      name: 'reporting dashboard',
      environment: 'test',
      scopes: ['videos:read', 'api_keys:read'],
      grant_all: false,
      status: 'active',
      metadata: { team: 'bi' },
      expires_at: null,
    });
    expect(r.body.hint).toBe(`sk_test_…${r.body.secret.slice(-4)}`);
    const shown = await w.call('GET', `/api/v1/keys/${r.body.id}`, w.a.admin);
    expect(shown.status).toBe(200);
    expect(shown.body.secret).toBeUndefined();
    expect(JSON.stringify(shown.body)).not.toContain(r.body.secret.slice(8, 30));
    // Storage holds the digest, not the key.
    const stored = await w.c.apiKeys.repo.keys.findOne({ id: r.body.id });
    expect(JSON.stringify(stored)).not.toContain(r.body.secret);
    expect(stored!.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a key without scopes, a wildcard, an unknown scope, and a missing name, with 400', async () => {
    const cases: [unknown, string][] = [
      [{ name: 'k' }, 'scopes_required'],
      [{ name: 'k', scopes: [] }, 'scopes_required'],
      [{ name: 'k', scopes: ['*'] }, 'invalid_request'],
      [{ name: 'k', scopes: ['nope:read'] }, 'unknown_scopes'],
      [{ scopes: ['videos:read'] }, 'invalid_request'],
      [{ name: 'k', scopes: ['videos:read'], grant_all: true }, 'invalid_request'],
      [{ name: 'k', scopes: ['videos:read'], expires_at: '2001-01-01T00:00:00Z' }, 'invalid_request'],
    ];
    for (const [body, error] of cases) {
      const r = await w.call('POST', '/api/v1/keys', w.a.admin, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error, JSON.stringify(body)).toBe(error);
    }
  });

  it('creates from a preset, and a grant-all key only explicitly', async () => {
    const preset = await w.call('POST', '/api/v1/keys', w.a.admin, {
      name: 'agent',
      preset: 'content-agent',
    });
    expect(preset.status).toBe(201);
    expect(preset.body.scopes).toEqual(expect.arrayContaining(['videos:write', 'content:generate']));
    const all = await w.call('POST', '/api/v1/keys', w.a.admin, { name: 'everything', grant_all: true });
    expect(all.status).toBe(201);
    expect(all.body).toMatchObject({ grant_all: true, scopes: [] });
  });

  it('lists with filters and pagination, newest first', async () => {
    for (let i = 0; i < 5; i++)
      await w.call('POST', '/api/v1/keys', w.a.admin, {
        name: `page ${i}`,
        environment: 'test',
        scopes: ['tags:read'],
      });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/v1/keys?environment=test&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await w.call('GET', q, w.a.admin);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      for (const k of page.body.data) {
        expect(k.environment).toBe('test');
        expect(k.secret).toBeUndefined();
        seen.push(k.id);
      }
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(new Set(seen).size).toBe(seen.length);
    expect((await w.call('GET', '/api/v1/keys?status=bogus', w.a.admin)).status).toBe(400);
    expect((await w.call('GET', '/api/v1/keys?limit=0', w.a.admin)).status).toBe(400);
    expect((await w.call('GET', '/api/v1/keys?cursor=abc', w.a.admin)).status).toBe(400);
  });

  it('applies a scope edit on the very next request: a removed scope gets 403 with required_scopes', async () => {
    const k = await w.key({ name: 'reader', scopes: ['api_keys:read', 'videos:read'] });
    expect((await use(k.secret)).status).toBe(200);
    const patched = await w.call('PATCH', `/api/v1/keys/${k.id}`, w.a.admin, {
      scopes: ['videos:read'],
      name: 'renamed',
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'renamed', scopes: ['videos:read'] });
    const refused = await use(k.secret);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      error: 'insufficient_scope',
      required_scopes: expect.arrayContaining(['api_keys:read']),
    });
    expect(refused.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
    // ...and a scope added back works on the next request again.
    await w.call('PATCH', `/api/v1/keys/${k.id}`, w.a.admin, { scopes: ['videos:read', 'api_keys:read'] });
    expect((await use(k.secret)).status).toBe(200);
  });

  it('revokes at once: the next request gets 401 with WWW-Authenticate, and the key shows as revoked', async () => {
    const k = await w.key({ name: 'to revoke', scopes: ['api_keys:read'] });
    expect((await use(k.secret)).status).toBe(200);
    const r = await w.call('POST', `/api/v1/keys/${k.id}/revoke`, w.a.admin);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('revoked');
    const next = await use(k.secret);
    expect(next.status).toBe(401);
    expect(next.headers.get('www-authenticate')).toMatch(/^Bearer realm="gatehouse", error="invalid_token"/);
    expect(next.body).toMatchObject({ error: 'key_revoked' });
    // Idempotent, and DELETE is the same.
    expect((await w.call('DELETE', `/api/v1/keys/${k.id}`, w.a.admin)).body.status).toBe('revoked');
    expect((await w.call('PATCH', `/api/v1/keys/${k.id}`, w.a.admin, { name: 'x' })).status).toBe(409);
    expect((await w.call('POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin)).status).toBe(409);
    const listed = await w.call('GET', '/api/v1/keys?status=revoked', w.a.admin);
    expect(listed.body.data.map((x: { id: string }) => x.id)).toContain(k.id);
  });

  it('rotates without grace: same settings, the old secret is invalid at once', async () => {
    const k = await w.key({ name: 'rotating', scopes: ['api_keys:read'], metadata: { a: 1 } });
    const r = await w.call('POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin, {});
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: k.id,
      name: 'rotating',
      scopes: ['api_keys:read'],
      metadata: { a: 1 },
    });
    expect(r.body.secret).toMatch(KEY_RE);
    expect(r.body.secret).not.toBe(k.secret);
    expect((await use(k.secret)).status).toBe(401);
    expect((await use(r.body.secret)).status).toBe(200);
  });

  it('rotates with a grace period: both secrets work until it ends, then only the new one', async () => {
    const k = await w.key({ name: 'graceful', scopes: ['api_keys:read'] });
    const r = await w.call('POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin, { grace_seconds: 2 });
    expect(r.status).toBe(200);
    expect(r.body.previous_secret_expires_at).not.toBeNull();
    expect((await use(k.secret)).status).toBe(200);
    expect((await use(r.body.secret)).status).toBe(200);
    await sleep(2300);
    expect((await use(k.secret)).status).toBe(401);
    expect((await use(r.body.secret)).status).toBe(200);
    expect(
      (await w.call('POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin, { grace_seconds: -1 })).status,
    ).toBe(400);
  });

  it('concurrent rotations leave exactly one valid secret (losers get 409 conflict)', async () => {
    const k = await w.key({ name: 'contended', scopes: ['api_keys:read'] });
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => w.call('POST', `/api/v1/keys/${k.id}/rotate`, w.a.admin, {})),
    );
    const won = answers.filter((a) => a.status === 200);
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(409);
      expect(a.body.error).toBe('conflict');
    }
    const secrets = [k.secret, ...won.map((a) => a.body.secret as string)];
    expect(new Set(secrets).size).toBe(secrets.length);
    const valid = [];
    for (const s of secrets) if ((await use(s)).status === 200) valid.push(s);
    expect(valid).toHaveLength(1);
    expect(valid[0]).not.toBe(k.secret);
  });

  it('gives temporary keys 7 days unless expires_at says otherwise; expired keys are refused and shown as expired', async () => {
    const temp = await w.call('POST', '/api/v1/keys', w.a.admin, {
      name: 'partner trial',
      temporary: true,
      scopes: ['api_keys:read'],
    });
    expect(temp.status).toBe(201);
    const days = (Date.parse(temp.body.expires_at) - Date.parse(temp.body.created_at)) / 86_400_000;
    expect(days).toBeCloseTo(7, 3);
    const at = new Date(Date.now() + 1500).toISOString();
    const short = await w.call('POST', '/api/v1/keys', w.a.admin, {
      name: 'short',
      temporary: true,
      expires_at: at,
      scopes: ['api_keys:read'],
    });
    expect(short.body.expires_at).toBe(at);
    expect((await use(short.body.secret)).status).toBe(200);
    await sleep(1700);
    const refused = await use(short.body.secret);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('key_expired');
    expect((await w.call('GET', `/api/v1/keys/${short.body.id}`, w.a.admin)).body.status).toBe('expired');
    const expired = await w.call('GET', '/api/v1/keys?status=expired', w.a.admin);
    expect(expired.body.data.map((x: { id: string }) => x.id)).toContain(short.body.id);
  });

  it('keeps last_used_at and the IP, coalesced', async () => {
    const k = await w.key({ name: 'used', scopes: ['api_keys:read'] });
    expect((await w.call('GET', `/api/v1/keys/${k.id}`, w.a.admin)).body.last_used_at).toBeNull();
    await use(k.secret);
    await use(k.secret);
    const shown = await w.call('GET', `/api/v1/keys/${k.id}`, w.a.admin);
    expect(shown.body.last_used_at).not.toBeNull();
    expect(shown.body.last_used_ip).toBe('127.0.0.1');
    // The store is written by the coalescing flush, not per request.
    await w.c.apiKeys.flush();
    expect((await w.c.apiKeys.repo.keys.findOne({ id: k.id }))!.lastUsedAt).not.toBeNull();
  });

  it('answers 404 for an unknown key id and 400 for bad input, never 500', async () => {
    expect((await w.call('GET', '/api/v1/keys/key_0000000000000000', w.a.admin)).status).toBe(404);
    expect((await w.call('GET', '/api/v1/keys/%00', w.a.admin)).status).toBe(404);
    expect(
      (await w.call('PATCH', '/api/v1/keys/key_0000000000000000', w.a.admin, { name: 'x' })).status,
    ).toBe(404);
    const bad = await fetch(`${w.server.url}/api/v1/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.a.admin}`, 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(bad.status).toBe(400);
    expect(
      (await w.call('POST', '/api/v1/keys', w.a.admin, { name: 'k', scopes: 'videos:read' })).status,
    ).toBe(400);
    expect(
      (await w.call('POST', '/api/v1/keys', w.a.admin, { name: 'k', scopes: ['videos:read'], extra: 1 }))
        .status,
    ).toBe(400);
  });
});
