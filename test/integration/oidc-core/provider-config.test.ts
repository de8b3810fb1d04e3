import { createHash, randomUUID } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiResource } from '../../../src/oidc/resources.ts';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { form, refusal, stores, type Tenant, tenant } from './fixtures.ts';

/**
 * The provider's configuration seen from outside: what discovery advertises, resource
 * indicators (RFC 8707) and JWT access tokens (RFC 9068), revocation (RFC 7009) and introspection
 * (RFC 7662) of JWTs, PAR (RFC 9126) with PKCE S256 only, DPoP (RFC 9449), standard error shapes.
 * The full browser flows are in test/integration/oidc (openid-client as the relying party).
 */
describe.each(stores)('the OIDC provider on the %s store', (_name, store) => {
  let gh: TestServer;
  let t: Tenant;
  let svc: { id: string; secret: string };
  let web: { id: string; secret: string };
  const RESOURCE = 'https://videos.acme.test/';

  beforeAll(async () => {
    gh = await startGatehouse(store());
    t = await tenant(gh.container);
    const a = await gh.container.clients.create(t.workspaceId, {
      name: 'svc',
      grantTypes: ['client_credentials'],
      resources: [RESOURCE],
    });
    svc = { id: a.client.id, secret: a.secret! };
    const b = await gh.container.clients.create(t.workspaceId, {
      name: 'web',
      redirectUris: ['https://web.acme.test/cb'],
    });
    web = { id: b.client.id, secret: b.secret! };
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('advertises what it does in discovery', async () => {
    const d = (await (await fetch(new URL('/.well-known/openid-configuration', gh.issuer))).json()) as Record<
      string,
      unknown
    >;
    expect(d.issuer).toBe(gh.issuer);
    expect(d.response_types_supported).toEqual(['code']);
    expect(d.code_challenge_methods_supported).toEqual(['S256']);
    expect(d.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token', 'client_credentials']),
    );
    expect(d.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'none']),
    );
    expect(d.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']),
    );
    expect(d.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'email_verified', 'name']));
    expect(d.id_token_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'RS256']));
    for (const endpoint of [
      'introspection_endpoint',
      'revocation_endpoint',
      'userinfo_endpoint',
      'end_session_endpoint',
      'pushed_authorization_request_endpoint',
      'jwks_uri',
    ]) {
      expect(d[endpoint], endpoint).toMatch(new RegExp(`^${gh.issuer}/`));
    }
    expect((d.dpop_signing_alg_values_supported as string[]).length).toBeGreaterThan(0);
  });

  it("issues JWT access tokens for the API by default and for the client's own resource on request", async () => {
    const api = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials', scope: 'videos:read' },
      svc,
    );
    expect(decodeJwt(String(api.json.access_token))).toMatchObject({
      aud: apiResource(gh.issuer),
      workspace_id: t.workspaceId,
      client_id: svc.id,
    });
    const own = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials', resource: RESOURCE, scope: 'videos:read' },
      svc,
    );
    expect(own.status).toBe(200);
    expect(decodeJwt(String(own.json.access_token)).aud).toBe(RESOURCE);
    // Not for Gatehouse's API: the token service refuses it there, accepts it for its audience.
    await expect(gh.container.tokens.verifyAccessToken(String(own.json.access_token))).rejects.toMatchObject({
      code: 'invalid_token',
    });
    await expect(
      gh.container.tokens.verifyAccessToken(String(own.json.access_token), RESOURCE),
    ).resolves.toBeTruthy();
    const stranger = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials', resource: 'https://elsewhere.test/' },
      svc,
    );
    expect(stranger).toMatchObject({ status: 400, json: { error: 'invalid_target' } });
  });

  it('introspects and revokes JWT access tokens; only the owning client revokes', async () => {
    const issued = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials', scope: 'videos:read' },
      svc,
    );
    const jwt = String(issued.json.access_token);
    const intro = await form(`${gh.issuer}/token/introspection`, { token: jwt }, svc);
    expect(intro.json).toMatchObject({
      active: true,
      client_id: svc.id,
      scope: 'videos:read',
      workspace_id: t.workspaceId,
    });
    // Another client (same workspace) may look, but not revoke someone else's token.
    const byOther = await form(`${gh.issuer}/token/revocation`, { token: jwt }, web);
    expect(byOther.status).toBe(200);
    expect((await form(`${gh.issuer}/token/introspection`, { token: jwt }, svc)).json.active).toBe(true);
    const revoked = await form(
      `${gh.issuer}/token/revocation`,
      { token: jwt, token_type_hint: 'access_token' },
      svc,
    );
    expect(revoked.status).toBe(200);
    expect((await form(`${gh.issuer}/token/introspection`, { token: jwt }, svc)).json).toEqual({
      active: false,
    });
    await expect(gh.container.tokens.verifyAccessToken(jwt)).rejects.toMatchObject({ code: 'token_revoked' });
    // Other tokens of the same client are untouched.
    const next = await form(`${gh.issuer}/token`, { grant_type: 'client_credentials' }, svc);
    await expect(gh.container.tokens.verifyAccessToken(String(next.json.access_token))).resolves.toBeTruthy();
    // Garbage and unknown tokens: standard answers.
    expect((await form(`${gh.issuer}/token/revocation`, { token: 'a.b.c' }, svc)).status).toBe(200);
    expect((await form(`${gh.issuer}/token/introspection`, { token: 'a.b.c' }, svc)).json).toEqual({
      active: false,
    });
    const anonymous = await form(`${gh.issuer}/token/introspection`, { token: jwt });
    expect(anonymous).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
  });

  it('answers protocol errors in the standard shape', async () => {
    const bad = await form(
      `${gh.issuer}/token`,
      { grant_type: 'password', username: 'a', password: 'b' },
      svc,
    );
    expect(bad.status).toBe(400);
    expect(bad.json).toEqual({ error: 'unsupported_grant_type', error_description: expect.any(String) });
    const notAllowed = await form(`${gh.issuer}/token`, { grant_type: 'client_credentials' }, web);
    expect(notAllowed).toMatchObject({ status: 400, json: { error: 'unauthorized_client' } });
    const wrongSecret = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials' },
      { ...svc, secret: 'x' },
    );
    expect(wrongSecret).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
  });

  it('takes pushed authorization requests (PAR) with PKCE S256, and refuses plain', async () => {
    const base = {
      client_id: web.id,
      response_type: 'code',
      redirect_uri: 'https://web.acme.test/cb',
      scope: 'openid email',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    };
    const ok = await form(`${gh.issuer}/request`, { ...base, code_challenge_method: 'S256' }, web);
    expect(ok.status, JSON.stringify(ok.json)).toBe(201);
    expect(ok.json.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const plain = await form(`${gh.issuer}/request`, { ...base, code_challenge_method: 'plain' }, web);
    expect(plain.status).toBe(400);
    expect(plain.json.error).toBe('invalid_request');
    const unregistered = await form(
      `${gh.issuer}/request`,
      { ...base, redirect_uri: 'https://evil.test/cb' },
      web,
    );
    expect(unregistered.status).toBe(400);
  });

  it('binds tokens to a DPoP key (RFC 9449); the API refuses them as plain Bearer tokens', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${gh.issuer}/token`, jti: randomUUID() })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey);
    const res = await fetch(`${gh.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${svc.id}:${svc.secret}`).toString('base64')}`,
        dpop: proof,
      },
      body: 'grant_type=client_credentials&scope=videos%3Aread',
    });
    const body = (await res.json()) as { token_type: string; access_token: string };
    expect(res.status).toBe(200);
    expect(body.token_type).toBe('DPoP');
    const claims = decodeJwt(body.access_token) as { cnf?: { jkt?: string } };
    expect(claims.cnf?.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(gh.container.tokens.verifyAccessToken(body.access_token)).rejects.toMatchObject({
      code: 'invalid_token',
    });
    const intro = await form(`${gh.issuer}/token/introspection`, { token: body.access_token }, svc);
    expect(intro.json).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: claims.cnf!.jkt } });

    // Presented with the DPoP scheme (RFC 9449 §7.1): a proof of the same key, for this request and token.
    const url = `${gh.issuer}/api/v1/workspaces/${t.workspaceId}`;
    const ath = createHash('sha256').update(body.access_token).digest('base64url');
    const resourceProof = async (key: CryptoKey, pub: CryptoKey, claims: Record<string, unknown> = {}) =>
      new SignJWT({
        htm: 'GET',
        htu: url,
        jti: randomUUID(),
        ath,
        iat: Math.floor(Date.now() / 1000),
        ...claims,
      })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(pub) })
        .sign(key);
    const tokens = gh.container.tokens;
    const good = await resourceProof(privateKey, publicKey);
    await expect(
      tokens.verifyDpopAccessToken(body.access_token, { proof: good, method: 'GET', url }),
    ).resolves.toMatchObject({ clientId: svc.id });
    const refused = async (proof: string, method = 'GET', at = url) =>
      (await refusal(tokens.verifyDpopAccessToken(body.access_token, { proof, method, url: at }))).code;
    expect(await refused(good)).toBe('invalid_token'); // replayed
    const thief = await generateKeyPair('ES256');
    expect(await refused(await resourceProof(thief.privateKey, thief.publicKey))).toBe('invalid_token');
    expect(await refused(await resourceProof(privateKey, publicKey), 'POST')).toBe('invalid_token');
    expect(
      await refused(await resourceProof(privateKey, publicKey), 'GET', `${gh.issuer}/api/v1/other`),
    ).toBe('invalid_token');
    expect(await refused(await resourceProof(privateKey, publicKey, { ath: 'x' }))).toBe('invalid_token');
    expect(
      await refused(await resourceProof(privateKey, publicKey, { iat: Math.floor(Date.now() / 1000) - 600 })),
    ).toBe('invalid_token');
    // A query string does not change the URL the proof is for.
    const withQuery = await resourceProof(privateKey, publicKey);
    await expect(
      tokens.verifyDpopAccessToken(body.access_token, { proof: withQuery, method: 'GET', url: `${url}?x=1` }),
    ).resolves.toBeTruthy();
    // Over HTTP: the API authenticates a request with the DPoP scheme and a fresh proof (then answers 403:
    // a service client's token is not a Gatehouse sign-in), and says DPoP when it refuses the credential.
    const listUrl = `${gh.issuer}/api/v1/workspaces`;
    const listProof = async () =>
      new SignJWT({ htm: 'GET', htu: listUrl, jti: randomUUID(), ath, iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: await exportJWK(publicKey) })
        .sign(privateKey);
    const served = await fetch(listUrl, {
      headers: { authorization: `DPoP ${body.access_token}`, dpop: await listProof() },
    });
    expect(served.status).toBe(403);
    expect(await served.json()).toMatchObject({ error: 'insufficient_scope' });
    const asBearer = await fetch(listUrl, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(asBearer.status).toBe(401);
    const noProof = await fetch(listUrl, { headers: { authorization: `DPoP ${body.access_token}` } });
    expect(noProof.status).toBe(401);
    expect(noProof.headers.get('www-authenticate')).toMatch(/^DPoP /);
    expect(((await noProof.json()) as { error: string }).error).toBe('invalid_token');
    // A bearer (unbound) token is not accepted through the DPoP path.
    const plain = await form(`${gh.issuer}/token`, { grant_type: 'client_credentials' }, svc);
    expect(
      (
        await refusal(
          tokens.verifyDpopAccessToken(String(plain.json.access_token), { proof: good, method: 'GET', url }),
        )
      ).code,
    ).toBe('invalid_token');
  });
});
