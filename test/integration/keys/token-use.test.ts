import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { basicAuth, createWorkspace, rawToken, stores } from '../oidc/fixtures.ts';

/**
 * A key's client_credentials token is the key at work: getting one and using it on Gatehouse's
 * API both count on the key's rate limit, so a token is no way around it.
 */
describe.each(stores)("an API key's rate limit binds its tokens on the %s store", (_name, store) => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await startGatehouse(store());
  });
  afterAll(async () => {
    await gh?.close();
  });

  const get = async (path: string, token: string) => {
    const res = await fetch(new URL(path, gh.url), { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
  };

  it('counts getting a token and every use of it, then answers 429 with Retry-After', async () => {
    const ws = await createWorkspace(gh.container, 'limited');
    const { key, secret } = await gh.container.apiKeys.create(
      ws.id,
      { name: 'limited', scopes: ['api_keys:read'], rateLimit: { requests: 3, windowSeconds: 3600 } },
      { scopes: 'all' },
    );
    const minted = await rawToken(gh.issuer, { grant_type: 'client_credentials' }, { id: key.id, secret });
    expect(minted.status).toBe(200);
    const token = String(minted.body.access_token);
    expect((await get('/api/v1/keys', token)).status).toBe(200);
    expect((await get('/api/v1/keys', token)).status).toBe(200);
    const over = await get('/api/v1/keys', token);
    expect(over.status).toBe(429);
    expect(Number(over.retryAfter)).toBeGreaterThan(0);
    expect(over.body.error).toBe('rate_limited');
    // The key itself shares the window, and so does getting another token.
    expect((await get('/api/v1/keys', secret)).status).toBe(429);
    const again = await fetch(new URL('/token', gh.issuer), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(key.id, secret),
      },
      body: 'grant_type=client_credentials',
    });
    expect(again.status).toBe(429);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await again.json()).toMatchObject({ error: 'rate_limited' });
  });
});
