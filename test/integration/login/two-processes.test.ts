/**
 * Two Gatehouse servers on one MongoDB database, as two processes behind a load balancer would
 * run: tokens from one work on the other, refresh rotation and reuse detection hold across them,
 * and the rate-limit counts are shared.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mongoUriWithDb, startGatehouse, type TestServer } from '../../helpers/server.ts';
import { call, freshIp, LOGIN_TEST_ENV, login, refresh } from './client.ts';

describe('the login API on two servers sharing one MongoDB', () => {
  let a: TestServer;
  let b: TestServer;
  let annId: string;

  beforeAll(async () => {
    const uri = mongoUriWithDb(inject('mongoUri'));
    // Behind one load balancer: one public URL, so one issuer, for both.
    const env = { ...LOGIN_TEST_ENV, PUBLIC_URL: 'http://login.gatehouse.test' };
    a = await startGatehouse({ kind: 'mongo', uri }, env);
    b = await startGatehouse({ kind: 'mongo', uri }, env);
    const ann = await a.container.accounts.createUser({ email: 'ann@example.com', password: 'ann password' });
    annId = ann.id;
    await a.container.workspaces.create({ name: 'Acme' }, ann.id);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('accepts on one server the tokens the other issued, and rotates across them', async () => {
    const first = (await login(a.url, 'ann@example.com', 'ann password')).body;
    const me = await call(b.url, 'GET', '/api/v1/me', { token: first.access_token });
    expect(me).toMatchObject({ status: 200, body: { user: { id: annId } } });
    const second = await refresh(b.url, first.refresh_token);
    expect(second.status).toBe(200);
    expect(decodeJwt(second.body.access_token).sub).toBe(annId);
    const third = await refresh(a.url, second.body.refresh_token);
    expect(third.status).toBe(200);
    // The spent first token, replayed at either server, revokes the family on both.
    expect((await refresh(b.url, first.refresh_token)).body).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh(a.url, third.body.refresh_token)).status).toBe(401);
    for (const server of [a, b]) {
      expect((await call(server.url, 'GET', '/api/v1/me', { token: third.body.access_token })).status).toBe(
        401,
      );
    }
  });

  it('logs out on one server for both', async () => {
    const tokens = (await login(b.url, 'ann@example.com', 'ann password')).body;
    expect(
      (await call(a.url, 'POST', '/api/v1/auth/logout', { body: { refresh_token: tokens.refresh_token } }))
        .status,
    ).toBe(204);
    expect((await refresh(b.url, tokens.refresh_token)).status).toBe(401);
    expect((await call(b.url, 'GET', '/api/v1/me', { token: tokens.access_token })).status).toBe(401);
  });

  it('shares the per-email count: 8 attempts on one and 7 on the other, then 429 on both', async () => {
    await a.container.accounts.createUser({ email: 'bob@example.com', password: 'bob password' });
    for (let i = 0; i < 15; i++) {
      const server = i % 2 ? b : a;
      expect((await login(server.url, 'bob@example.com', 'wrong password', {}, freshIp())).status).toBe(401);
    }
    for (const server of [a, b]) {
      const res = await login(server.url, 'BOB@example.com', 'bob password', {}, freshIp());
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.body).toMatchObject({
        error: 'rate_limited',
        retry_after: Number(res.headers.get('retry-after')),
      });
    }
  });

  it('shares the per-address count: 30 + 30 logins, then 429', async () => {
    const ip = freshIp();
    const attempts = Array.from({ length: 60 }, (_, i) =>
      login(i % 2 ? b.url : a.url, `user${i}@example.com`, 'some password', {}, ip),
    );
    // At the same time on both servers: the shared count still admits exactly 60.
    const answers = await Promise.all(attempts);
    expect(answers.map((r) => r.status).filter((s) => s === 401)).toHaveLength(60);
    expect((await login(b.url, 'user60@example.com', 'some password', {}, ip)).status).toBe(429);
    expect((await login(a.url, 'user61@example.com', 'some password', {}, ip)).status).toBe(429);
  });

  it('shares the per-token refresh count: 15 + 15, then 429', async () => {
    const token = 'someone-keeps-trying-this-token';
    for (let i = 0; i < 30; i++) {
      expect((await refresh(i % 2 ? b.url : a.url, token, freshIp())).status).toBe(401);
    }
    expect((await refresh(a.url, token, freshIp())).status).toBe(429);
    expect((await refresh(b.url, token, freshIp())).status).toBe(429);
  });
});
