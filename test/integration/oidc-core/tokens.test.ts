import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiResource } from '../../../src/oidc/resources.ts';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { type FakeClock, fakeClock } from '../../helpers/stores.ts';
import { addUser, form, refusal, stores, type Tenant, tenant } from './fixtures.ts';

/**
 * c.tokens (DECISIONS.md): login-API tokens minted through oidc-provider's own models, verified
 * and revoked on one path, against a real server on each store.
 */
describe.each(stores)('the token service on the %s store', (_name, store) => {
  let gh: TestServer;
  let clock: FakeClock;
  let t: Tenant;

  beforeAll(async () => {
    clock = fakeClock(new Date());
    gh = await startGatehouse(store(), {}, { clock });
    t = await tenant(gh.container);
  });
  afterAll(async () => {
    await gh?.close();
  });
  afterEach(() => {
    clock.set(new Date());
  });

  it('issues a JWT access token (RFC 9068) that the published JWKS verifies, and verifies it', async () => {
    const pair = await gh.container.tokens.issueForUser({
      userId: t.owner.id,
      workspaceId: t.workspaceId,
      scopes: ['videos:read', 'videos:write'],
    });
    expect(pair).toMatchObject({
      token_type: 'Bearer',
      expires_in: 4 * 3600,
      scope: 'videos:read videos:write',
    });
    expect(pair.refresh_token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(decodeProtectedHeader(pair.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const { payload } = await jwtVerify(pair.access_token, createRemoteJWKSet(new URL('/jwks', gh.issuer)), {
      issuer: gh.issuer,
      audience: apiResource(gh.issuer),
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: t.owner.id, client_id: 'gatehouse', workspace_id: t.workspaceId });
    expect(payload.exp! - payload.iat!).toBe(4 * 3600);
    const v = await gh.container.tokens.verifyAccessToken(pair.access_token);
    expect(v).toMatchObject({
      sub: t.owner.id,
      clientId: 'gatehouse',
      workspaceId: t.workspaceId,
      scopes: ['videos:read', 'videos:write'],
      grantId: payload.gid,
      jti: payload.jti,
    });
  });

  it("takes the access-token lifetime from the workspace's setting", async () => {
    const other = await tenant(gh.container, 'short');
    await gh.container.workspaces.update(other.workspaceId, { settings: { access_token_ttl: 600 } });
    const pair = await gh.container.tokens.issueForUser({
      userId: other.owner.id,
      workspaceId: other.workspaceId,
    });
    expect(pair.expires_in).toBe(600);
    const p = decodeJwt(pair.access_token);
    expect(p.exp! - p.iat!).toBe(600);
    const next = await gh.container.tokens.refresh(pair.refresh_token);
    expect(next.expires_in).toBe(600);
  });

  it('refresh rotates: a new pair, the old refresh token spent', async () => {
    const first = await gh.container.tokens.issueForUser({
      userId: t.owner.id,
      workspaceId: t.workspaceId,
      scopes: ['videos:read'],
    });
    const second = await gh.container.tokens.refresh(first.refresh_token);
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.scope).toBe('videos:read');
    const v = await gh.container.tokens.verifyAccessToken(second.access_token);
    expect(v.grantId).toBe(decodeJwt(first.access_token).gid);
    const third = await gh.container.tokens.refresh(second.refresh_token);
    expect(third.refresh_token).not.toBe(second.refresh_token);
  });

  it('replaying a spent refresh token revokes the whole family: access and refresh tokens', async () => {
    const first = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const second = await gh.container.tokens.refresh(first.refresh_token);
    expect(await refusal(gh.container.tokens.refresh(first.refresh_token))).toEqual({
      status: 401,
      code: 'invalid_grant',
    });
    expect(await refusal(gh.container.tokens.verifyAccessToken(second.access_token))).toEqual({
      status: 401,
      code: 'token_revoked',
    });
    expect(await refusal(gh.container.tokens.verifyAccessToken(first.access_token))).toMatchObject({
      code: 'token_revoked',
    });
    expect(await refusal(gh.container.tokens.refresh(second.refresh_token))).toMatchObject({
      code: 'invalid_grant',
    });
  });

  it('of two concurrent refreshes with one token, at most one succeeds', async () => {
    const first = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const results = await Promise.allSettled([
      gh.container.tokens.refresh(first.refresh_token),
      gh.container.tokens.refresh(first.refresh_token),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(1);
  });

  it('logout revokes the grant; unknown tokens are not an error', async () => {
    const pair = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    await gh.container.tokens.revokeRefreshToken(pair.refresh_token);
    await gh.container.tokens.revokeRefreshToken(pair.refresh_token);
    await gh.container.tokens.revokeRefreshToken('not-a-token');
    expect(await refusal(gh.container.tokens.verifyAccessToken(pair.access_token))).toMatchObject({
      code: 'token_revoked',
    });
    expect(await refusal(gh.container.tokens.refresh(pair.refresh_token))).toMatchObject({
      code: 'invalid_grant',
    });
  });

  it('refuses unknown, garbage and removed-member refresh tokens', async () => {
    expect(await refusal(gh.container.tokens.refresh('nope'))).toEqual({
      status: 401,
      code: 'invalid_grant',
    });
    expect(await refusal(gh.container.tokens.refresh('x'.repeat(5000)))).toMatchObject({
      code: 'invalid_grant',
    });
    const member = await addUser(gh.container, t.workspaceId, 'member');
    const pair = await gh.container.tokens.issueForUser({ userId: member.id, workspaceId: t.workspaceId });
    await gh.container.workspaces.removeMember(t.workspaceId, member.id);
    expect(await refusal(gh.container.tokens.refresh(pair.refresh_token))).toMatchObject({
      code: 'invalid_grant',
    });
    expect(await refusal(gh.container.tokens.verifyAccessToken(pair.access_token))).toMatchObject({
      code: 'token_revoked',
    });
  });

  it('refuses an expired access token (clock moved past exp) and an expired refresh token', async () => {
    const short = await tenant(gh.container, 'expiry');
    await gh.container.workspaces.update(short.workspaceId, {
      settings: { access_token_ttl: 60, refresh_token_ttl: 120 },
    });
    const pair = await gh.container.tokens.issueForUser({
      userId: short.owner.id,
      workspaceId: short.workspaceId,
    });
    clock.advance(61_000);
    expect(await refusal(gh.container.tokens.verifyAccessToken(pair.access_token))).toEqual({
      status: 401,
      code: 'token_expired',
    });
    clock.advance(60_000);
    expect(await refusal(gh.container.tokens.refresh(pair.refresh_token))).toMatchObject({
      code: 'invalid_grant',
    });
  });

  it('refuses a wrong audience, a foreign issuer, a foreign signature and a tampered payload', async () => {
    const pair = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    expect(
      await refusal(gh.container.tokens.verifyAccessToken(pair.access_token, 'https://other.example/api')),
    ).toEqual({ status: 401, code: 'invalid_token' });

    const claims = decodeJwt(pair.access_token);
    const header = decodeProtectedHeader(pair.access_token);
    const ours = gh.container.signingKeyRing.current().find((k) => k.kid === header.kid)!;
    const ourKey = await importJWK(ours.jwk as JWK, 'ES256');
    const sign = (payload: Record<string, unknown>, key: CryptoKey | Uint8Array) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid }).sign(key);

    // Our own key, but another issuer: refused.
    const foreignIss = await sign({ ...claims, iss: 'https://evil.example' }, ourKey as CryptoKey);
    expect(await refusal(gh.container.tokens.verifyAccessToken(foreignIss))).toMatchObject({
      code: 'invalid_token',
    });
    // Our issuer and kid, another key: refused.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await sign(claims, privateKey);
    expect(await refusal(gh.container.tokens.verifyAccessToken(forged))).toMatchObject({
      code: 'invalid_token',
    });
    // Payload changed after signing: refused.
    const [h, , s] = pair.access_token.split('.');
    const body = Buffer.from(JSON.stringify({ ...claims, scope: 'admin:all' })).toString('base64url');
    expect(await refusal(gh.container.tokens.verifyAccessToken(`${h}.${body}.${s}`))).toMatchObject({
      code: 'invalid_token',
    });
    // Not at+jwt (e.g. an id_token shape): refused.
    const idTokenish = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: header.kid })
      .sign(ourKey);
    expect(await refusal(gh.container.tokens.verifyAccessToken(idTokenish))).toMatchObject({
      code: 'invalid_token',
    });
    expect(await refusal(gh.container.tokens.verifyAccessToken('garbage'))).toMatchObject({
      code: 'invalid_token',
    });
    // The genuine one still passes.
    await expect(gh.container.tokens.verifyAccessToken(pair.access_token)).resolves.toMatchObject({
      sub: t.owner.id,
    });
  });

  it('keeps login-API refresh tokens out of the protocol endpoints', async () => {
    const pair = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const asFirstParty = await form(
      `${gh.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: pair.refresh_token },
      { id: 'gatehouse', secret: 'first-party' },
    );
    expect(asFirstParty).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    const web = await gh.container.clients.create(t.workspaceId, {
      name: 'web',
      redirectUris: ['https://a.test/cb'],
    });
    const asClient = await form(
      `${gh.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: pair.refresh_token },
      { id: web.client.id, secret: web.secret! },
    );
    expect(asClient).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    // Still usable through the login API.
    await expect(gh.container.tokens.refresh(pair.refresh_token)).resolves.toBeTruthy();
  });

  it('issues only to active members of the workspace', async () => {
    const stranger = await tenant(gh.container, 'stranger');
    expect(
      await refusal(
        gh.container.tokens.issueForUser({ userId: stranger.owner.id, workspaceId: t.workspaceId }),
      ),
    ).toEqual({ status: 403, code: 'not_a_member' });
    expect(
      await refusal(gh.container.tokens.issueForUser({ userId: 'usr_nobody', workspaceId: t.workspaceId })),
    ).toMatchObject({ status: 403 });
  });

  it('refuses to issue for a workspace that does not exist', async () => {
    expect(
      await refusal(
        gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: 'ws_000000000000000000000000' }),
      ),
    ).toMatchObject({ status: 404 });
  });
});

describe.each(stores)('the refresh reuse grace window on the %s store', (_name, store) => {
  let gh: TestServer;
  let clock: FakeClock;
  let t: Tenant;

  beforeAll(async () => {
    clock = fakeClock(new Date());
    gh = await startGatehouse(store(), { REFRESH_TOKEN_REUSE_GRACE_SECONDS: '5' }, { clock });
    t = await tenant(gh.container);
  });
  afterAll(async () => {
    await gh?.close();
  });
  afterEach(() => {
    clock.set(new Date());
  });

  it('answers the same new pair to two tabs refreshing at once', async () => {
    const first = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const [a, b] = await Promise.all([
      gh.container.tokens.refresh(first.refresh_token),
      gh.container.tokens.refresh(first.refresh_token),
    ]);
    expect(a).toEqual(b);
    await expect(gh.container.tokens.verifyAccessToken(a.access_token)).resolves.toBeTruthy();
  });

  it('inside the window a replay gets the same pair; outside it, the family is revoked', async () => {
    const first = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const second = await gh.container.tokens.refresh(first.refresh_token);
    clock.advance(4000);
    expect(await gh.container.tokens.refresh(first.refresh_token)).toEqual(second);
    clock.advance(2000);
    expect(await refusal(gh.container.tokens.refresh(first.refresh_token))).toMatchObject({
      code: 'invalid_grant',
    });
    expect(await refusal(gh.container.tokens.verifyAccessToken(second.access_token))).toMatchObject({
      code: 'token_revoked',
    });
  });

  it('once the successor was used, a replay of its predecessor revokes the family even inside the window', async () => {
    const first = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const second = await gh.container.tokens.refresh(first.refresh_token);
    const third = await gh.container.tokens.refresh(second.refresh_token);
    expect(await refusal(gh.container.tokens.refresh(first.refresh_token))).toMatchObject({
      code: 'invalid_grant',
    });
    expect(await refusal(gh.container.tokens.verifyAccessToken(third.access_token))).toMatchObject({
      code: 'token_revoked',
    });
  });
});
