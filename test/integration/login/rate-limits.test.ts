/**
 * The login API's rate limits with their real numbers (DESIGN.md: login 60/min per IP and
 * 15/min per email; refresh 30/min per token and 100/min per IP), over HTTP on both stores.
 * The server trusts X-Forwarded-For here, so each test picks its client addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { type Answer, freshIp, LOGIN_TEST_ENV, login, refresh, stores } from './client.ts';

function expectLimited(res: Answer, why = ''): number {
  expect(res.status, why).toBe(429);
  const header = res.headers.get('retry-after');
  expect(header, why).toMatch(/^[1-9][0-9]*$/);
  const seconds = Number(header);
  expect(seconds, why).toBeLessThanOrEqual(60);
  expect(res.body, why).toEqual({ error: 'rate_limited', message: expect.any(String), retry_after: seconds });
  return seconds;
}

describe.each(stores)('login API rate limits on the %s store', (_name, store) => {
  let server: TestServer;
  let base: string;

  beforeAll(async () => {
    server = await startGatehouse(store(), LOGIN_TEST_ENV);
    base = server.url;
    const c = server.container;
    const ann = await c.accounts.createUser({ email: 'ann@example.com', password: 'ann password' });
    await c.workspaces.create({ name: 'Acme' }, ann.id);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('uses the documented limits unless configured otherwise', () => {
    expect(server.container.config.authRateLimits).toEqual({
      windowSeconds: 60,
      loginPerIp: 60,
      loginPerEmail: 15,
      refreshPerToken: 30,
      refreshPerIp: 100,
    });
  });

  it('allows 15 logins a minute per email, from any address and in any spelling, then 429', async () => {
    const spellings = ['ann@example.com', 'ANN@example.com', ' Ann@Example.Com '];
    for (let i = 0; i < 15; i++) {
      const res = await login(base, spellings[i % 3]!, 'wrong password', {}, freshIp());
      expect(res.status, `attempt ${i + 1}`).toBe(401);
    }
    const sixteenth = await login(base, 'ann@example.com', 'wrong password', {}, freshIp());
    expectLimited(sixteenth, '16th');
    // Even the right password waits: the limit is on attempts, not failures.
    expectLimited(await login(base, 'Ann@example.com', 'ann password', {}, freshIp()), 'right password');
    // Another email from one of the same addresses is not affected.
    expect((await login(base, 'someone@example.com', 'whatever1', {}, freshIp())).status).toBe(401);
  });

  it('counts unknown emails alike: 15, then 429', async () => {
    for (let i = 0; i < 15; i++) {
      expect((await login(base, 'nobody@example.com', 'x', {}, freshIp())).status).toBe(401);
    }
    expectLimited(await login(base, 'nobody@example.com', 'x', {}, freshIp()));
  });

  it('allows 60 logins a minute per address, then 429 whatever the email', async () => {
    const ip = freshIp();
    for (let i = 0; i < 60; i++) {
      const res = await login(base, `user${i}@example.com`, 'some password', {}, ip);
      expect(res.status, `attempt ${i + 1}`).toBe(401);
    }
    expectLimited(await login(base, 'user60@example.com', 'some password', {}, ip), '61st');
    // Another address still gets through.
    expect((await login(base, 'user61@example.com', 'some password', {}, freshIp())).status).toBe(401);
  });

  it('allows 30 refreshes a minute per refresh token, then 429', async () => {
    const token = 'a-refresh-token-that-someone-keeps-trying';
    for (let i = 0; i < 30; i++) {
      expect((await refresh(base, token, freshIp())).status, `attempt ${i + 1}`).toBe(401);
    }
    expectLimited(await refresh(base, token, freshIp()), '31st');
    expect((await refresh(base, `${token}-2`, freshIp())).status).toBe(401);
  });

  it('allows 100 refreshes a minute per address, then 429', async () => {
    const ip = freshIp();
    for (let i = 0; i < 100; i++) {
      expect((await refresh(base, `token-${i}`, ip)).status, `attempt ${i + 1}`).toBe(401);
    }
    expectLimited(await refresh(base, 'token-100', ip), '101st');
    expect((await refresh(base, 'token-101', freshIp())).status).toBe(401);
  });

  it('documents the login API, with its 429s, in the OpenAPI registry', () => {
    const ops = server.container.openapi.operations;
    const op = (method: string, path: string) => ops.find((o) => o.method === method && o.path === path);
    expect(Object.keys(op('post', '/api/v1/auth/login')!.responses)).toContain('429');
    expect(Object.keys(op('post', '/api/v1/auth/refresh')!.responses)).toContain('429');
    const body = z.toJSONSchema(op('post', '/api/v1/auth/login')!.body!, { io: 'input' }) as {
      required: string[];
    };
    expect(body.required).toEqual(['email', 'password']);
    expect(op('post', '/api/v1/auth/logout')).toBeDefined();
    expect(op('get', '/api/v1/me')).toMatchObject({ auth: 'user' });
  });
});

describe('login API rate limits as configured', () => {
  it('takes its numbers from the settings', async () => {
    const server = await startGatehouse(
      { kind: 'embedded' },
      { ...LOGIN_TEST_ENV, AUTH_LOGIN_LIMIT_PER_EMAIL: '2' },
    );
    try {
      for (let i = 0; i < 2; i++)
        expect((await login(server.url, 'x@example.com', 'x', {}, freshIp())).status).toBe(401);
      expectLimited(await login(server.url, 'x@example.com', 'x', {}, freshIp()));
    } finally {
      await server.close();
    }
  });
});
