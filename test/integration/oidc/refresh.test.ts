import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import {
  apiResource,
  codeFlow,
  createWorkspace,
  type RegisteredClient,
  rawToken,
  registerClient,
  relyingParty,
  stores,
  userinfoStatus,
  verifyRefusal,
  type Workspace,
} from './fixtures.ts';

/** offline_access needs prompt=consent to yield a refresh token (OIDC Core 11). */
const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };

describe.each(stores)('refresh, introspection and revocation on the %s store', (_name, store) => {
  let gh: TestServer;
  let ws: Workspace;
  let client: RegisteredClient;
  let rp: oidc.Configuration;

  beforeAll(async () => {
    gh = await startGatehouse(store());
    ws = await createWorkspace(gh.container);
    client = await registerClient(gh.container, ws.id);
    rp = await relyingParty(gh.issuer, client);
  });
  afterAll(async () => {
    await gh?.close();
  });

  const offlineTokens = async (extra: Record<string, string> = {}) =>
    (await codeFlow(gh.url, rp, ws.owner.email, { ...OFFLINE, ...extra })).tokens;

  const expectInvalidGrant = async (refreshToken: string) => {
    const err = await oidc.refreshTokenGrant(rp, refreshToken).then(
      () => null,
      (e: unknown) => e as oidc.ResponseBodyError,
    );
    expect(err, 'the refresh token still works').not.toBeNull();
    expect(err!.error).toBe('invalid_grant');
  };

  it('rotates the refresh token on every use; the new access token works', async () => {
    const first = await offlineTokens();
    expect(first.refresh_token).toBeTruthy();
    const second = await oidc.refreshTokenGrant(rp, first.refresh_token!);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.claims()?.sub).toBe(ws.owner.id);
    const info = await oidc.fetchUserInfo(rp, second.access_token, ws.owner.id);
    expect(info.email).toBe(ws.owner.email);
    const third = await oidc.refreshTokenGrant(rp, second.refresh_token!);
    expect(third.refresh_token).not.toBe(second.refresh_token);
  });

  it('treats a replayed spent refresh token as theft: the whole family is revoked', async () => {
    const first = await offlineTokens();
    const second = await oidc.refreshTokenGrant(rp, first.refresh_token!);
    expect(await userinfoStatus(rp, `Bearer ${second.access_token}`)).toBe(200);
    await expectInvalidGrant(first.refresh_token!); // the replay
    // The rotated-to refresh token and the access tokens of the grant stop working.
    await expectInvalidGrant(second.refresh_token!);
    expect(await userinfoStatus(rp, `Bearer ${second.access_token}`)).toBe(401);
    expect(await userinfoStatus(rp, `Bearer ${first.access_token}`)).toBe(401);
    expect((await oidc.tokenIntrospection(rp, second.access_token)).active).toBe(false);
    expect((await oidc.tokenIntrospection(rp, second.refresh_token!)).active).toBe(false);
  });

  it('revokes the JWT access tokens of a replayed family too (one revocation path)', async () => {
    const resource = apiResource(gh.issuer);
    const first = await offlineTokens({ scope: 'openid offline_access videos:read', resource });
    const second = await oidc.refreshTokenGrant(rp, first.refresh_token!, { resource });
    expect(await verifyRefusal(gh.container, second.access_token)).toBeNull();
    await expectInvalidGrant(first.refresh_token!);
    expect(await verifyRefusal(gh.container, second.access_token)).toBe('token_revoked');
    expect(await verifyRefusal(gh.container, first.access_token)).toBe('token_revoked');
    expect((await oidc.tokenIntrospection(rp, second.access_token)).active).toBe(false);
  });

  it('lets only one of several concurrent uses of a refresh token start a live family', async () => {
    const t = await offlineTokens();
    const form = { grant_type: 'refresh_token', refresh_token: t.refresh_token! };
    const auth = { id: client.clientId, secret: client.clientSecret! };
    const answers = await Promise.all(Array.from({ length: 4 }, () => rawToken(gh.issuer, form, auth)));
    const issued = new Set(answers.filter((a) => a.status === 200).map((a) => String(a.body.refresh_token)));
    const live: string[] = [];
    for (const rt of issued) if ((await oidc.tokenIntrospection(rp, rt)).active) live.push(rt);
    // Two live rotations of one token would let a thief and the client refresh side by side,
    // with no reuse ever detected (RFC 9700 §4.14.2).
    expect(
      live.length,
      `${answers.map((a) => a.status).join(',')}: ${live.length} live families`,
    ).toBeLessThanOrEqual(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(a.body.error).toBe('invalid_grant');
  });

  it('introspects access and refresh tokens per RFC 7662', async () => {
    const t = await offlineTokens();
    const at = await oidc.tokenIntrospection(rp, t.access_token);
    expect(at).toMatchObject({
      active: true,
      client_id: client.clientId,
      sub: ws.owner.id,
      iss: gh.issuer,
    });
    expect(String(at.scope).split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    expect(at.exp).toBeGreaterThan(Date.now() / 1000);
    const rt = await oidc.tokenIntrospection(rp, t.refresh_token!, { token_type_hint: 'refresh_token' });
    expect(rt).toMatchObject({ active: true, client_id: client.clientId, sub: ws.owner.id });
    expect(await oidc.tokenIntrospection(rp, 'not-a-token')).toEqual({ active: false });
  });

  it('requires client authentication at introspection', async () => {
    const t = await offlineTokens({ scope: 'openid' });
    const res = await fetch(rp.serverMetadata().introspection_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.access_token }).toString(),
    });
    expect([400, 401]).toContain(res.status);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  });

  it('revokes an access token per RFC 7009', async () => {
    const t = await offlineTokens();
    await oidc.tokenRevocation(rp, t.access_token, { token_type_hint: 'access_token' });
    expect(await userinfoStatus(rp, `Bearer ${t.access_token}`)).toBe(401);
    expect((await oidc.tokenIntrospection(rp, t.access_token)).active).toBe(false);
    // Revoking something unknown is not an error (RFC 7009 2.2).
    await oidc.tokenRevocation(rp, 'unknown-token');
  });

  it('revokes a refresh token per RFC 7009, and the grant with it', async () => {
    const t = await offlineTokens();
    await oidc.tokenRevocation(rp, t.refresh_token!, { token_type_hint: 'refresh_token' });
    await expectInvalidGrant(t.refresh_token!);
    expect((await oidc.tokenIntrospection(rp, t.refresh_token!)).active).toBe(false);
    expect(await userinfoStatus(rp, `Bearer ${t.access_token}`)).toBe(401);
  });

  it('refuses a refresh token presented by another client of the workspace', async () => {
    const t = await offlineTokens();
    const other = await registerClient(gh.container, ws.id, { name: 'Other app' });
    const otherRp = await relyingParty(gh.issuer, other);
    const err = await oidc.refreshTokenGrant(otherRp, t.refresh_token!).then(
      () => null,
      (e: unknown) => e as oidc.ResponseBodyError,
    );
    expect(err?.error).toBe('invalid_grant');
    // The owner's refresh token still works: a foreign attempt is not a replay of the owner's.
    expect((await oidc.refreshTokenGrant(rp, t.refresh_token!)).access_token).toBeTruthy();
  });
});

describe('two Gatehouse instances (own containers and connections) on one MongoDB, one issuer', () => {
  let one: TestServer;
  let two: TestServer;

  beforeAll(async () => {
    const shared = stores[1]![1]();
    one = await startGatehouse(shared);
    // The second instance serves the same public issuer, as behind a load balancer.
    two = await startGatehouse(shared, { PUBLIC_URL: one.issuer });
  });
  afterAll(async () => {
    await two?.close();
    await one?.close();
  });

  it('detects a refresh token replayed at the other instance and revokes the family on both', async () => {
    const ws = await createWorkspace(one.container);
    const client = await registerClient(one.container, ws.id);
    const rp = await relyingParty(one.issuer, client);
    const resource = apiResource(one.issuer);
    const { tokens } = await codeFlow(one.url, rp, ws.owner.email, {
      ...OFFLINE,
      scope: 'openid offline_access videos:read',
      resource,
    });
    const auth = { id: client.clientId, secret: client.clientSecret! };
    const refresh = (url: string, rt: string) =>
      fetch(new URL('/token', url), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${auth.id}:${auth.secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, resource }).toString(),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));
    const rotated = await refresh(one.url, tokens.refresh_token!);
    expect(rotated.status).toBe(200);
    // The rotated tokens are good at the other instance too (one store, one issuer, one JWKS).
    expect(await verifyRefusal(two.container, rotated.body.access_token!)).toBeNull();
    const replay = await refresh(two.url, tokens.refresh_token!);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect((await refresh(one.url, rotated.body.refresh_token!)).body.error).toBe('invalid_grant');
    expect(await verifyRefusal(one.container, rotated.body.access_token!)).toBe('token_revoked');
    expect(await verifyRefusal(two.container, rotated.body.access_token!)).toBe('token_revoked');
  });
});
