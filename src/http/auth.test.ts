import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Membership } from '../accounts/model.ts';
import { createLogger } from '../logger.ts';
import { type AccessTokenVerifier, authenticate, requireRole, requireUser } from './auth.ts';
import { AppError } from './errors.ts';
import { apiErrors } from './middleware.ts';

const tokens: AccessTokenVerifier = {
  async verifyAccessToken(jwt) {
    if (jwt === 'good.jwt.token')
      return {
        sub: 'usr_1',
        workspaceId: 'ws_1',
        clientId: 'gatehouse',
        scopes: ['openid'],
        jti: 'j1',
        exp: 0,
      };
    // A token a third-party app got through the code flow, and one an API key got as client credentials.
    if (jwt === 'app.jwt.token')
      return { sub: 'usr_1', workspaceId: 'ws_1', clientId: 'cl_app', scopes: ['openid'], jti: 'j2', exp: 0 };
    if (jwt === 'key.jwt.token')
      return {
        sub: 'key_0123456789abcdef',
        workspaceId: 'ws_1',
        clientId: 'key_0123456789abcdef',
        scopes: ['videos:read'],
        jti: 'j3',
        exp: 0,
      };
    if (jwt === 'old.jwt.token') {
      throw new AppError(
        401,
        'token_expired',
        'The access token has expired.',
        {},
        { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      );
    }
    throw new AppError(
      401,
      'invalid_token',
      'The access token is not valid.',
      {},
      { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
    );
  },
};

const memberships: Record<string, Membership> = {
  'ws_1:usr_1': {
    id: 'ws_1:usr_1',
    workspaceId: 'ws_1',
    userId: 'usr_1',
    role: 'member',
    createdAt: new Date(),
  },
};
const workspaces = { membership: async (ws: string, user: string) => memberships[`${ws}:${user}`] ?? null };

let base: string;
let server: ReturnType<Koa['listen']>;

beforeAll(async () => {
  const app = new Koa();
  app.use(apiErrors(createLogger('silent')));
  app.use(authenticate({ tokens }));
  app.use(async (ctx) => {
    if (ctx.path === '/api/v1/open') ctx.body = { principal: ctx.state.principal ?? null };
    else if (ctx.path === '/api/v1/auth/refresh') ctx.body = { refreshed: true };
    else if (ctx.path.startsWith('/api/v1/auth/')) ctx.body = requireUser(ctx);
    else if (ctx.path === '/api/v1/me') ctx.body = requireUser(ctx);
    else if (!ctx.path.startsWith('/api/v1/')) ctx.body = { principal: ctx.state.principal ?? null };
    else {
      const ws = ctx.path.split('/')[4]!;
      ctx.body = await requireRole(
        { workspaces },
        ctx,
        ws,
        ctx.query.role === 'member' ? ['owner', 'admin', 'member'] : ['owner', 'admin'],
      );
    }
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const get = (path: string, authorization?: string) =>
  fetch(base + path, { headers: authorization ? { authorization } : {} });

describe('authenticate', () => {
  it('turns a valid Bearer token into a user principal', async () => {
    const res = await get('/api/v1/open', 'Bearer good.jwt.token');
    expect(await res.json()).toEqual({
      principal: {
        kind: 'user',
        userId: 'usr_1',
        workspaceId: 'ws_1',
        scopes: ['openid'],
        tokenId: 'j1',
        clientId: 'gatehouse',
        firstParty: true,
      },
    });
    expect((await get('/api/v1/open', 'bearer  good.jwt.token')).status).toBe(200);
  });

  it('lets requests without credentials or with another scheme through unauthenticated', async () => {
    expect(await (await get('/api/v1/open')).json()).toEqual({ principal: null });
    expect(await (await get('/api/v1/open', 'Basic dXNlcjpwYXNz')).json()).toEqual({ principal: null });
  });

  it('answers 401 with the token service error for a bad or expired token', async () => {
    const bad = await get('/api/v1/open', 'Bearer forged.jwt.token');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await bad.json()).toMatchObject({ error: 'invalid_token' });
    expect(await (await get('/api/v1/open', 'Bearer old.jwt.token')).json()).toMatchObject({
      error: 'token_expired',
    });
  });

  it('leaves paths outside /api/v1 to their own authentication', async () => {
    const res = await get('/me', 'Bearer forged.jwt.token');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ principal: null });
  });

  it('answers 401 invalid_token for a malformed Bearer header', async () => {
    for (const h of ['Bearer', 'Bearer two words', 'Bearer bad"chars']) {
      const res = await get('/api/v1/open', h);
      expect(res.status, h).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    }
  });

  it('does not block the login API with a stale token, but reports it when a user is needed there', async () => {
    expect(await (await get('/api/v1/auth/refresh', 'Bearer old.jwt.token')).json()).toEqual({
      refreshed: true,
    });
    const res = await get('/api/v1/auth/sessions', 'Bearer old.jwt.token');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'token_expired' });
  });
});

describe('tokens issued to apps and to API keys', () => {
  it("refuses an app's token where a Gatehouse sign-in is needed: 403 insufficient_scope", async () => {
    const res = await get('/api/v1/me', 'Bearer app.jwt.token');
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect(await res.json()).toMatchObject({ error: 'insufficient_scope' });
    // The member's role is not lent to the app either.
    expect((await get('/api/v1/workspaces/ws_1?role=member', 'Bearer app.jwt.token')).status).toBe(403);
  });

  it("makes an API key's client_credentials token act as that key, with the token's scopes", async () => {
    expect(await (await get('/api/v1/open', 'Bearer key.jwt.token')).json()).toEqual({
      principal: {
        kind: 'api_key',
        keyId: 'key_0123456789abcdef',
        workspaceId: 'ws_1',
        scopes: ['videos:read'],
      },
    });
    expect((await get('/api/v1/me', 'Bearer key.jwt.token')).status).toBe(403);
  });
});

describe('requireUser and requireRole', () => {
  it('answers 401 unauthorized with WWW-Authenticate when nobody signed in', async () => {
    const res = await get('/api/v1/me');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="gatehouse"/);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('answers the membership when the role fits, 403 when it is too low, 404 when not a member', async () => {
    expect(
      await (await get('/api/v1/workspaces/ws_1?role=member', 'Bearer good.jwt.token')).json(),
    ).toMatchObject({
      role: 'member',
    });
    const low = await get('/api/v1/workspaces/ws_1', 'Bearer good.jwt.token');
    expect(low.status).toBe(403);
    expect(await low.json()).toMatchObject({
      error: 'forbidden',
      required_roles: ['owner', 'admin'],
      role: 'member',
    });
    const other = await get('/api/v1/workspaces/ws_2?role=member', 'Bearer good.jwt.token');
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: 'not_found', message: 'No such workspace.' });
    expect((await get('/api/v1/workspaces/ws_1?role=member')).status).toBe(401);
  });
});
