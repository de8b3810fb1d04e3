import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { type FakeClock, fakeClock } from '../../helpers/stores.ts';
import {
  apiResource,
  authorize,
  CALLBACK,
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

/** A token with the same header and claims as `jwt`, signed by `key` (kid kept unless replaced). */
async function resign(
  jwt: string,
  key: CryptoKey | Uint8Array,
  header: Record<string, unknown> = {},
): Promise<string> {
  const h = decodeProtectedHeader(jwt);
  return new SignJWT(decodeJwt(jwt))
    .setProtectedHeader({ ...h, ...header, alg: String(header.alg ?? h.alg) })
    .sign(key);
}

describe.each(stores)('foreign, forged and expired tokens on the %s store', (_name, store) => {
  let gh: TestServer;
  let stranger: TestServer; // a second, independent Gatehouse
  let clock: FakeClock;
  let ws: Workspace;
  let service: RegisteredClient;
  let web: RegisteredClient;
  let rp: oidc.Configuration;
  let ccToken: string;

  beforeAll(async () => {
    clock = fakeClock(new Date());
    gh = await startGatehouse(store(), {}, { clock });
    stranger = await startGatehouse({ kind: 'embedded' });
    ws = await createWorkspace(gh.container);
    service = await registerClient(gh.container, ws.id, {
      grantTypes: ['client_credentials'],
    });
    web = await registerClient(gh.container, ws.id);
    rp = await relyingParty(gh.issuer, service);
    ccToken = (await oidc.clientCredentialsGrant(rp, { scope: 'videos:read' })).access_token;
  });
  afterAll(async () => {
    await gh?.close();
    await stranger?.close();
  });

  it('accepts its own token (the baseline the refusals below differ from)', async () => {
    expect(await verifyRefusal(gh.container, ccToken)).toBeNull();
    expect((await oidc.tokenIntrospection(rp, ccToken)).active).toBe(true);
  });

  it('refuses a token issued by another Gatehouse', async () => {
    const sws = await createWorkspace(stranger.container);
    const sClient = await registerClient(stranger.container, sws.id, {
      grantTypes: ['client_credentials'],
    });
    const srp = await relyingParty(stranger.issuer, sClient);
    const foreign = (await oidc.clientCredentialsGrant(srp, { scope: 'videos:read' })).access_token;
    expect(await verifyRefusal(stranger.container, foreign)).toBeNull(); // valid where it was issued
    expect(await verifyRefusal(gh.container, foreign)).toBe('invalid_token');
    expect(await verifyRefusal(gh.container, foreign, apiResource(stranger.issuer))).toBe('invalid_token');
    expect((await oidc.tokenIntrospection(rp, foreign)).active).toBe(false);
    // Its opaque userinfo token means nothing here either.
    const sWeb = await registerClient(stranger.container, sws.id);
    const sWebRp = await relyingParty(stranger.issuer, sWeb);
    const { tokens } = await codeFlow(stranger.url, sWebRp, sws.owner.email, { scope: 'openid' });
    expect(await userinfoStatus(sWebRp, `Bearer ${tokens.access_token}`)).toBe(200);
    const webRp = await relyingParty(gh.issuer, web);
    expect(await userinfoStatus(webRp, `Bearer ${tokens.access_token}`)).toBe(401);
  });

  it('refuses our claims signed with a foreign key, even under our kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    expect(await verifyRefusal(gh.container, await resign(ccToken, privateKey))).toBe('invalid_token');
    expect((await oidc.tokenIntrospection(rp, await resign(ccToken, privateKey))).active).toBe(false);
  });

  it('refuses a wrong signature, alg none, and an HMAC made with the public key', async () => {
    const [h, p, s] = ccToken.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] ?? 0) ^ 0xff;
    expect(await verifyRefusal(gh.container, `${h}.${p}.${sig.toString('base64url')}`)).toBe('invalid_token');
    // Claims changed under the original signature.
    const claims = { ...decodeJwt(ccToken), scope: 'videos:read videos:write' };
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
    expect(await verifyRefusal(gh.container, tampered)).toBe('invalid_token');
    const none = `${Buffer.from(JSON.stringify({ ...decodeProtectedHeader(ccToken), alg: 'none' })).toString('base64url')}.${p}.`;
    expect(await verifyRefusal(gh.container, none)).toBe('invalid_token');
    const jwks = (await (await fetch(new URL('/jwks', gh.issuer))).json()) as { keys: { kid: string }[] };
    const pub = jwks.keys.find((k) => k.kid === decodeProtectedHeader(ccToken).kid)!;
    const hs = await resign(ccToken, new TextEncoder().encode(JSON.stringify(pub)), { alg: 'HS256' });
    expect(await verifyRefusal(gh.container, hs)).toBe('invalid_token');
    expect((await oidc.tokenIntrospection(rp, tampered)).active).toBe(false);
  });

  it('refuses a token signed with our own key for another audience', async () => {
    // Signed by Gatehouse's real key, so only the audience check can refuse it.
    const keys = await gh.container.signingKeys.load();
    const es = keys.find((k) => k.alg === 'ES256')!;
    const key = await importJWK(es.jwk, 'ES256');
    const other = await new SignJWT({ ...decodeJwt(ccToken), aud: 'https://elsewhere.test/api' })
      .setProtectedHeader(decodeProtectedHeader(ccToken) as { alg: string })
      .sign(key);
    expect(await verifyRefusal(gh.container, other)).toBe('invalid_token');
  });

  it('refuses an expired token signed with our own key', async () => {
    const keys = await gh.container.signingKeys.load();
    const es = keys.find((k) => k.alg === 'ES256')!;
    const key = (await importJWK(es.jwk, 'ES256')) as CryptoKey;
    const now = Math.floor(clock.now().getTime() / 1000);
    const expired = await new SignJWT({ ...decodeJwt(ccToken), iat: now - 7200, exp: now - 3600 })
      .setProtectedHeader(decodeProtectedHeader(ccToken) as { alg: string })
      .sign(key);
    expect(await verifyRefusal(gh.container, expired)).toBe('token_expired');
  });

  it('expires real tokens when time passes (injected clock): access, refresh and introspection', async () => {
    const webRp = await relyingParty(gh.issuer, web);
    const { tokens } = await codeFlow(gh.url, webRp, ws.owner.email, {
      scope: 'openid offline_access videos:read',
      prompt: 'consent',
      resource: apiResource(gh.issuer),
    });
    const cc = (await oidc.clientCredentialsGrant(rp, { scope: 'videos:read' })).access_token;
    expect(await verifyRefusal(gh.container, tokens.access_token)).toBeNull();
    // The workspace default access-token lifetime is 4 h: 4 h + 1 min later, both are expired.
    clock.advance((4 * 3600 + 60) * 1000);
    try {
      expect(await verifyRefusal(gh.container, tokens.access_token)).toBe('token_expired');
      expect(await verifyRefusal(gh.container, cc)).toBe('token_expired');
      // A refresh token outlives access tokens; move past the longest refresh lifetime (1 year cap).
      clock.advance(366 * 86_400_000);
      const err = await oidc.refreshTokenGrant(webRp, tokens.refresh_token!).then(
        () => null,
        (e: unknown) => e as oidc.ResponseBodyError,
      );
      expect(err?.error).toBe('invalid_grant');
    } finally {
      clock.set(new Date());
    }
  });

  it("keeps refresh tokens for the workspace's refresh lifetime (30 days), past the 14-day session", async () => {
    const webRp = await relyingParty(gh.issuer, web);
    const offline = { scope: 'openid offline_access', prompt: 'consent' };
    const early = (await codeFlow(gh.url, webRp, ws.owner.email, offline)).tokens;
    const late = (await codeFlow(gh.url, webRp, ws.owner.email, offline)).tokens;
    try {
      clock.advance(20 * 86_400_000);
      expect((await oidc.refreshTokenGrant(webRp, early.refresh_token!)).access_token).toBeTruthy();
      clock.advance(11 * 86_400_000);
      const err = await oidc.refreshTokenGrant(webRp, late.refresh_token!).then(
        () => null,
        (e: unknown) => e as oidc.ResponseBodyError,
      );
      expect(err?.error).toBe('invalid_grant');
    } finally {
      clock.set(new Date());
    }
  });

  it('refuses an authorization code redeemed after its 60 s lifetime (injected clock)', async () => {
    const webRp = await relyingParty(gh.issuer, web);
    const a = await authorize(gh.url, webRp, ws.owner.email, { scope: 'openid' });
    clock.advance(61_000);
    try {
      const res = await rawToken(
        gh.issuer,
        {
          grant_type: 'authorization_code',
          code: a.callback.searchParams.get('code')!,
          redirect_uri: CALLBACK,
          code_verifier: a.verifier,
        },
        { id: web.clientId, secret: web.clientSecret! },
      );
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    } finally {
      clock.set(new Date());
    }
  });

  it('refuses a token under a kid we never published', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const unknownKid = await resign(ccToken, privateKey, { kid: `k-${jwk.x}` });
    expect(await verifyRefusal(gh.container, unknownKid)).toBe('invalid_token');
  });
});
