/**
 * The login API against a real Gatehouse on loopback, on both stores: login, refresh rotation and
 * reuse detection, logout, /me, one answer (and one argon2 verification) for every failed login,
 * and workspace boundaries for tokens from this API.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '../../../src/accounts/model.ts';
import { apiResource } from '../../../src/oidc/resources.ts';
import type { Workspace } from '../../../src/workspaces/model.ts';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { call, counter, freshIp, LOGIN_TEST_ENV, login, refresh, stores } from './client.ts';

describe.each(stores)('the login API on the %s store', (_name, store) => {
  let server: TestServer;
  let base: string;
  const users: Record<string, User> = {};
  let acme: Workspace; // ann owner, hank member
  let globex: Workspace; // carol owner, ann member, access tokens of 15 min
  let ssoOnly: Workspace; // dave owner; sign-in methods: saml only

  beforeAll(async () => {
    // The flows here sign the same few users in many times a minute; the limits themselves are
    // proven with their real numbers in rate-limits.test.ts.
    server = await startGatehouse(store(), { ...LOGIN_TEST_ENV, AUTH_LOGIN_LIMIT_PER_EMAIL: '1000' });
    base = server.url;
    const c = server.container;
    for (const name of ['ann', 'bob', 'carol', 'dave', 'hank', 'ivy']) {
      users[name] = await c.accounts.createUser({
        email: `${name}@example.com`,
        password: `${name} password`,
      });
    }
    users.fed = await c.accounts.createUser({ email: 'fed@example.com' }); // federated only: no password
    acme = await c.workspaces.create({ name: 'Acme' }, users.ann!.id);
    globex = await c.workspaces.create(
      { name: 'Globex', settings: { access_token_ttl: 900 } },
      users.carol!.id,
    );
    ssoOnly = await c.workspaces.create(
      { name: 'SSO only', settings: { sign_in_methods: ['saml'] } },
      users.dave!.id,
    );
    await c.workspaces.addMember(globex.id, users.ann!.id, 'member');
    await c.workspaces.addMember(acme.id, users.hank!.id, 'member');
    await c.workspaces.addMember(acme.id, users.ivy!.id, 'member');
    await c.workspaces.addMember(acme.id, users.fed!.id, 'member');
  });

  afterAll(async () => {
    await server?.close();
  });

  describe('login', () => {
    it('answers exactly the four fields, with a JWT access token for the first workspace', async () => {
      const res = await login(base, 'ann@example.com', 'ann password');
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual([
        'access_token',
        'expires_in',
        'refresh_token',
        'token_type',
      ]);
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 4 * 3600 });
      expect(res.headers.get('cache-control')).toBe('no-store');
      // Verifiable through the published JWKS, like every Gatehouse access token (RFC 9068).
      const jwks = createRemoteJWKSet(new URL(`${base}/jwks`));
      const { payload, protectedHeader } = await jwtVerify(res.body.access_token, jwks, {
        issuer: server.issuer,
        audience: apiResource(server.issuer),
        typ: 'at+jwt',
      });
      expect(protectedHeader.typ).toBe('at+jwt');
      expect(payload).toMatchObject({ sub: users.ann!.id, workspace_id: acme.id });
      expect(payload.exp! - payload.iat!).toBe(4 * 3600);
      // The refresh token is opaque, not a JWT.
      expect(res.body.refresh_token.split('.')).toHaveLength(1);
    });

    it('signs in to the workspace asked for, by slug or id, with its token lifetime', async () => {
      for (const workspace of ['globex', globex.id]) {
        const res = await login(base, 'ann@example.com', 'ann password', { workspace });
        expect(res.status).toBe(200);
        expect(res.body.expires_in).toBe(900);
        const claims = decodeJwt(res.body.access_token);
        expect(claims.workspace_id).toBe(globex.id);
        expect(claims.exp! - claims.iat!).toBe(900);
      }
    });

    it('answers 404 for a workspace that is not yours, exactly as for none at all', async () => {
      const other = await login(base, 'ann@example.com', 'ann password', { workspace: ssoOnly.slug });
      const none = await login(base, 'ann@example.com', 'ann password', { workspace: 'no-such-workspace' });
      expect(other).toMatchObject({ status: 404, body: { error: 'not_found' } });
      expect(none.body).toEqual(other.body);
    });

    it('is not blocked by a stale or broken access token the client still sends', async () => {
      for (const token of ['eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', 'garbage']) {
        const res = await call(base, 'POST', '/api/v1/auth/login', {
          body: { email: 'ann@example.com', password: 'ann password' },
          token,
          ip: freshIp(),
        });
        expect(res.status).toBe(200);
      }
    });

    it('takes the email in any case and with surrounding spaces', async () => {
      const res = await login(base, '  ANN@Example.COM ', 'ann password');
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).sub).toBe(users.ann!.id);
    });

    it('gives one answer to every failed login, each after exactly one argon2 verification', async () => {
      const gone = await server.container.accounts.createUser({
        email: 'gone@example.com',
        password: 'gone password',
      });
      await server.container.accounts.setDisabled(gone.id, true);
      const attempts: [string, string, string][] = [
        ['unknown email', 'nobody@example.com', 'ann password'],
        ['wrong password', 'ann@example.com', 'not the password'],
        ['disabled account, right password', 'gone@example.com', 'gone password'],
        ['account without a password', 'fed@example.com', 'some password'],
        ['not an email at all', 'ann', 'ann password'],
        ['an overlong password', 'ann@example.com', 'x'.repeat(300)],
      ];
      let first: unknown;
      for (const [why, email, password] of attempts) {
        const before = {
          account: await counter(base, 'gatehouse_password_verifications_total{kind="account"}'),
          dummy: await counter(base, 'gatehouse_password_verifications_total{kind="dummy"}'),
        };
        const res = await login(base, email, password);
        expect(res.status, why).toBe(401);
        expect(res.headers.get('www-authenticate'), why).toMatch(/^Bearer realm="gatehouse"/);
        first ??= res.body;
        expect(res.body, why).toEqual(first);
        const after = {
          account: await counter(base, 'gatehouse_password_verifications_total{kind="account"}'),
          dummy: await counter(base, 'gatehouse_password_verifications_total{kind="dummy"}'),
        };
        // Whether or not the account exists, the request did the same argon2 work: one verification.
        expect(after.account - before.account + (after.dummy - before.dummy), why).toBe(1);
      }
      expect(first).toEqual({
        error: 'invalid_credentials',
        message: 'The email address or password is not right.',
      });
    });

    it('refuses accounts without a workspace, and workspaces that do not allow passwords', async () => {
      const bob = await login(base, 'bob@example.com', 'bob password');
      expect(bob).toMatchObject({ status: 403, body: { error: 'no_workspace' } });
      const dave = await login(base, 'dave@example.com', 'dave password');
      expect(dave).toMatchObject({ status: 403, body: { error: 'sign_in_method_not_allowed' } });
    });

    it('refuses bad input with a 400 naming the field, never a 500', async () => {
      const cases: [unknown, string][] = [
        [{}, 'email'],
        [{ email: 'ann@example.com' }, 'password'],
        [{ email: 42, password: 'x' }, 'email'],
        [{ email: 'ann@example.com', password: '' }, 'password'],
        [{ email: 'ann@example.com', password: 'ann password', workspace: '' }, 'workspace'],
      ];
      for (const [body, field] of cases) {
        const res = await call(base, 'POST', '/api/v1/auth/login', { body, ip: freshIp() });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body, JSON.stringify(body)).toMatchObject({ error: 'invalid_request', field });
      }
      const extra = await login(base, 'ann@example.com', 'ann password', { remember: true });
      expect(extra.status).toBe(400);
      const notJson = await call(base, 'POST', '/api/v1/auth/login', { raw: '{"email":', ip: freshIp() });
      expect(notJson).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
    });
  });

  describe('/me', () => {
    it('answers the user, the workspace of the token and every membership', async () => {
      const { body: tokens } = await login(base, 'ann@example.com', 'ann password', { workspace: 'globex' });
      const me = await call(base, 'GET', '/api/v1/me', { token: tokens.access_token });
      expect(me.status).toBe(200);
      expect(me.body).toEqual({
        user: {
          id: users.ann!.id,
          email: 'ann@example.com',
          email_verified: false,
          name: null,
          created_at: users.ann!.createdAt.toISOString(),
        },
        workspace_id: globex.id,
        memberships: [
          { workspace_id: acme.id, slug: 'acme', name: 'Acme', role: 'owner' },
          { workspace_id: globex.id, slug: 'globex', name: 'Globex', role: 'member' },
        ],
      });
    });

    it('answers 401 with WWW-Authenticate without a token or with a forged one', async () => {
      const none = await call(base, 'GET', '/api/v1/me');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const { body: tokens } = await login(base, 'ann@example.com', 'ann password');
      const [h, p] = tokens.access_token.split('.');
      const forged = await call(base, 'GET', '/api/v1/me', { token: `${h}.${p}.${'A'.repeat(86)}` });
      expect(forged.status).toBe(401);
      expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });
  });

  describe('refresh and logout', () => {
    it('rotates: each refresh token works once and gives a working new pair', async () => {
      const first = (await login(base, 'hank@example.com', 'hank password')).body;
      const second = await refresh(base, first.refresh_token);
      expect(second.status).toBe(200);
      expect(Object.keys(second.body).sort()).toEqual([
        'access_token',
        'expires_in',
        'refresh_token',
        'token_type',
      ]);
      expect(second.body).toMatchObject({ token_type: 'Bearer', expires_in: 4 * 3600 });
      expect(second.headers.get('cache-control')).toBe('no-store');
      expect(second.body.refresh_token).not.toBe(first.refresh_token);
      expect(decodeJwt(second.body.access_token)).toMatchObject({
        sub: users.hank!.id,
        workspace_id: acme.id,
      });
      const me = await call(base, 'GET', '/api/v1/me', { token: second.body.access_token });
      expect(me.body.user.id).toBe(users.hank!.id);
      const third = await refresh(base, second.body.refresh_token);
      expect(third.status).toBe(200);
    });

    it('revokes the whole family when a spent refresh token comes back', async () => {
      const first = (await login(base, 'ann@example.com', 'ann password')).body;
      const second = (await refresh(base, first.refresh_token)).body;
      const third = (await refresh(base, second.refresh_token)).body;
      expect((await call(base, 'GET', '/api/v1/me', { token: third.access_token })).status).toBe(200);

      const replay = await refresh(base, first.refresh_token);
      expect(replay).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      expect(replay.headers.get('www-authenticate')).toMatch(/^Bearer/);
      // The newest refresh token and every access token of the family are dead too.
      expect((await refresh(base, third.refresh_token)).status).toBe(401);
      for (const token of [first.access_token, second.access_token, third.access_token]) {
        const me = await call(base, 'GET', '/api/v1/me', { token });
        expect(me.status).toBe(401);
      }
      // Another sign-in of the same user is a family of its own and still works.
      const other = (await login(base, 'ann@example.com', 'ann password')).body;
      expect((await call(base, 'GET', '/api/v1/me', { token: other.access_token })).status).toBe(200);
    });

    it('answers 401 invalid_grant for unknown refresh tokens and 400 for bad input', async () => {
      const unknown = await refresh(base, 'not-a-refresh-token');
      expect(unknown).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });
      const access = (await login(base, 'ann@example.com', 'ann password')).body.access_token;
      expect((await refresh(base, access)).status).toBe(401);
      for (const body of [
        {},
        { refresh_token: '' },
        { refresh_token: 7 },
        { refresh_token: 'x', extra: 1 },
      ]) {
        const res = await call(base, 'POST', '/api/v1/auth/refresh', { body, ip: freshIp() });
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
    });

    it('logs out: the refresh token and its access tokens stop working; logging out twice is fine', async () => {
      const tokens = (await login(base, 'hank@example.com', 'hank password')).body;
      const out = await call(base, 'POST', '/api/v1/auth/logout', {
        body: { refresh_token: tokens.refresh_token },
      });
      expect(out.status).toBe(204);
      expect((await refresh(base, tokens.refresh_token)).status).toBe(401);
      expect((await call(base, 'GET', '/api/v1/me', { token: tokens.access_token })).status).toBe(401);
      const again = await call(base, 'POST', '/api/v1/auth/logout', {
        body: { refresh_token: tokens.refresh_token },
      });
      expect(again.status).toBe(204);
      const unknown = await call(base, 'POST', '/api/v1/auth/logout', {
        body: { refresh_token: 'never-issued' },
      });
      expect(unknown.status).toBe(204);
      const bad = await call(base, 'POST', '/api/v1/auth/logout', { body: {} });
      expect(bad.status).toBe(400);
    });

    it('stops refreshing for a member removed from the workspace, and for a disabled account', async () => {
      const tokens = (await login(base, 'ivy@example.com', 'ivy password')).body;
      await server.container.workspaces.removeMember(acme.id, users.ivy!.id);
      const res = await refresh(base, tokens.refresh_token);
      expect(res).toMatchObject({ status: 401, body: { error: 'invalid_grant' } });

      const hank = (await login(base, 'hank@example.com', 'hank password')).body;
      await server.container.accounts.setDisabled(users.hank!.id, true);
      try {
        expect(await refresh(base, hank.refresh_token)).toMatchObject({
          status: 401,
          body: { error: 'invalid_grant' },
        });
        expect((await call(base, 'GET', '/api/v1/me', { token: hank.access_token })).status).toBe(401);
        expect((await login(base, 'hank@example.com', 'hank password')).status).toBe(401);
      } finally {
        await server.container.accounts.setDisabled(users.hank!.id, false);
      }
      expect((await login(base, 'hank@example.com', 'hank password')).status).toBe(200);
    });
  });

  describe('workspace boundaries', () => {
    it('lets a token act only where its user is a member, with that role', async () => {
      const ann = (await login(base, 'ann@example.com', 'ann password')).body.access_token;
      const carol = (await login(base, 'carol@example.com', 'carol password')).body.access_token;
      // Ann owns Acme; in Globex she is a member: reading is fine, managing is refused.
      expect(
        (await call(base, 'PATCH', `/api/v1/workspaces/${acme.id}`, { token: ann, body: { name: 'Acme' } }))
          .status,
      ).toBe(200);
      expect((await call(base, 'GET', `/api/v1/workspaces/${globex.id}`, { token: ann })).body.role).toBe(
        'member',
      );
      const manage = await call(base, 'PATCH', `/api/v1/workspaces/${globex.id}`, {
        token: ann,
        body: { name: 'Mine' },
      });
      expect(manage).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      // Carol is not in Acme at all: it does not exist for her.
      const read = await call(base, 'GET', `/api/v1/workspaces/${acme.id}`, { token: carol });
      expect(read).toMatchObject({ status: 404, body: { error: 'not_found' } });
      const add = await call(base, 'POST', `/api/v1/workspaces/${acme.id}/members`, {
        token: carol,
        body: { email: 'carol@example.com', role: 'owner' },
      });
      expect(add.status).toBe(404);
      expect(await server.container.workspaces.membership(acme.id, users.carol!.id)).toBeNull();
      expect((await server.container.workspaces.get(globex.id))!.name).toBe('Globex');
    });
  });
});
