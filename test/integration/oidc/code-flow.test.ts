import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import {
  apiResource,
  authorize,
  CALLBACK,
  codeFlow,
  createWorkspace,
  LOGGED_OUT,
  type RegisteredClient,
  registerClient,
  relyingParty,
  stores,
  tokenService,
  type Workspace,
  walk,
} from './fixtures.ts';

/** A new authorization request (openid, PKCE S256) to start in a browser that may hold a session. */
async function newAuthorizationUrl(rp: oidc.Configuration): Promise<string> {
  const challenge = await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier());
  return oidc
    .buildAuthorizationUrl(rp, {
      redirect_uri: CALLBACK,
      scope: 'openid',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    })
    .toString();
}

describe.each(stores)('authorization code + PKCE with openid-client on the %s store', (_name, store) => {
  let gh: TestServer;
  let ws: Workspace;
  let confidential: RegisteredClient;
  let publicClient: RegisteredClient;

  beforeAll(async () => {
    gh = await startGatehouse(store());
    ws = await createWorkspace(gh.container);
    confidential = await registerClient(gh.container, ws.id, { name: 'Acme Analytics' });
    publicClient = await registerClient(gh.container, ws.id, { name: 'Acme Mobile', public: true });
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('publishes discovery that openid-client accepts, with only S256 PKCE and the features in use', async () => {
    const rp = await relyingParty(gh.issuer, confidential);
    const m = rp.serverMetadata();
    expect(m.issuer).toBe(gh.issuer);
    expect(m.code_challenge_methods_supported).toEqual(['S256']);
    for (const g of ['authorization_code', 'refresh_token', 'client_credentials']) {
      expect(m.grant_types_supported).toContain(g);
    }
    for (const e of [
      'token_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'introspection_endpoint',
      'revocation_endpoint',
      'end_session_endpoint',
      'pushed_authorization_request_endpoint',
    ] as const) {
      expect(m[e], e).toMatch(new RegExp(`^${gh.issuer}/`));
    }
    expect(m.dpop_signing_alg_values_supported).toContain('ES256');
    expect(m.id_token_signing_alg_values_supported).toContain('ES256');
    expect(m.authorization_response_iss_parameter_supported).toBe(true);
    const jwks = (await (await fetch(m.jwks_uri!)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.some((k) => k.alg === 'ES256')).toBe(true);
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d'); // public halves only
  });

  it('signs a member in for a confidential client: ID token claims from the account, userinfo', async () => {
    const rp = await relyingParty(gh.issuer, confidential);
    const { tokens, callback } = await codeFlow(gh.url, rp, ws.owner.email);
    expect(callback.searchParams.get('iss')).toBe(gh.issuer);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(gh.issuer);
    expect(claims.aud).toBe(confidential.clientId);
    expect(claims.sub).toBe(ws.owner.id);
    expect(claims.email).toBe(ws.owner.email);
    expect(claims.email_verified).toBe(true);
    expect(claims.name).toBe('Ada Lovelace');
    // The ID token verifies against the published keys (openid-client trusts TLS; we check the signature too).
    const jwks = createRemoteJWKSet(new URL(rp.serverMetadata().jwks_uri!));
    const verified = await jwtVerify(tokens.id_token!, jwks, {
      issuer: gh.issuer,
      audience: confidential.clientId,
    });
    expect(verified.protectedHeader.alg).toBe('ES256');
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, ws.owner.id);
    expect(info).toMatchObject({
      sub: ws.owner.id,
      email: ws.owner.email,
      email_verified: true,
      name: 'Ada Lovelace',
    });
  });

  it('signs a member in for a public client (no secret, PKCE required)', async () => {
    const rp = await relyingParty(gh.issuer, publicClient, 'none');
    const { tokens } = await codeFlow(gh.url, rp, ws.owner.email, { scope: 'openid email' });
    expect(tokens.claims()!.sub).toBe(ws.owner.id);
    expect(tokens.claims()!.aud).toBe(publicClient.clientId);
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, ws.owner.id);
    expect(info.email).toBe(ws.owner.email);
  });

  it('issues an RFC 9068 JWT access token for the API resource (RFC 8707), verifiable with jose', async () => {
    const rp = await relyingParty(gh.issuer, confidential);
    const resource = apiResource(gh.issuer);
    const { tokens } = await codeFlow(gh.url, rp, ws.owner.email, {
      scope: 'openid videos:read',
      resource,
    });
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
    const jwks = createRemoteJWKSet(new URL(rp.serverMetadata().jwks_uri!));
    const { payload } = await jwtVerify(tokens.access_token, jwks, {
      issuer: gh.issuer,
      audience: resource,
      typ: 'at+jwt',
    });
    expect(payload.sub).toBe(ws.owner.id);
    expect(payload.client_id).toBe(confidential.clientId);
    // RFC 9068 §2.2 required claims.
    for (const claim of ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'])
      expect(payload).toHaveProperty(claim);
    expect(String(payload.scope).split(' ')).toContain('videos:read');
    expect(payload.workspace_id).toBe(ws.id);
    // The same token service verifies it (one JWKS, one revocation path).
    const v = await tokenService(gh.container).verifyAccessToken(tokens.access_token);
    expect(JSON.stringify(v)).toContain(ws.id);
  });

  it('completes a pushed authorization request (RFC 9126): the browser only carries request_uri', async () => {
    const rp = await relyingParty(gh.issuer, confidential);
    let pushed: URL | undefined;
    const a = await authorize(
      gh.url,
      rp,
      ws.owner.email,
      {},
      {
        authUrl: async (p) => {
          pushed = await oidc.buildAuthorizationUrlWithPAR(rp, p);
          return pushed;
        },
      },
    );
    expect([...pushed!.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(pushed!.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const tokens = await oidc.authorizationCodeGrant(rp, a.callback, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
      expectedNonce: a.nonce,
    });
    expect(tokens.claims()!.sub).toBe(ws.owner.id);
    // A request_uri is single-use.
    const again = await a.browser.get(pushed!.toString());
    const back = again.location ? new URL(again.location, again.url) : undefined;
    expect(back?.searchParams.get('code') ?? null).toBeNull();
  });

  it('ends the session with RP-initiated logout and returns to the registered address', async () => {
    const rp = await relyingParty(gh.issuer, confidential);
    const { tokens, browser } = await codeFlow(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const end = oidc.buildEndSessionUrl(rp, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: LOGGED_OUT,
      state: 'bye',
    });
    const confirm = await browser.get(end.toString());
    expect(confirm.status).toBe(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(confirm.html)?.[1];
    const action = /action="([^"]*\/session\/end\/confirm[^"]*)"/.exec(confirm.html)?.[1];
    expect(xsrf && action).toBeTruthy();
    const done = await browser.post(action!, { xsrf: xsrf!, logout: 'yes' });
    expect(done.status).toBeGreaterThanOrEqual(300);
    const back = new URL(done.location!, done.url);
    expect(`${back.origin}${back.pathname}`).toBe(LOGGED_OUT);
    expect(back.searchParams.get('state')).toBe('bye');
    // Signed out: a new authorization in the same browser asks for the password again.
    const again = await browser.follow(await browser.get(await newAuthorizationUrl(rp)));
    expect(again.html).toContain('autocomplete="current-password"');
  });

  it('refuses logout to a post_logout_redirect_uri the client did not register', async () => {
    const rp = await relyingParty(gh.issuer, confidential);
    const { tokens, browser } = await codeFlow(gh.url, rp, ws.owner.email, { scope: 'openid' });
    const end = oidc.buildEndSessionUrl(rp, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: 'https://evil.test/after',
    });
    const res = await browser.get(end.toString());
    expect(res.status).toBe(400);
    expect(res.location ?? '').not.toContain('evil.test');
    // The session survives a refused logout: silent authorization still works.
    const silent = await walk(
      browser,
      await browser.get(await newAuthorizationUrl(rp)),
      'not-used@nowhere.test',
    );
    expect(silent.searchParams.get('code')).toBeTruthy();
  });
});
