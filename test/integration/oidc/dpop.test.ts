import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import {
  apiResource,
  codeFlow,
  createWorkspace,
  type RegisteredClient,
  registerClient,
  relyingParty,
  stores,
  userinfoStatus,
  type Workspace,
} from './fixtures.ts';

/** A DPoP proof JWT (RFC 9449 §4.2) for one request, signed with `keys`. */
async function proof(keys: CryptoKeyPair, htm: string, htu: string, accessToken?: string): Promise<string> {
  const jwk = await exportJWK(keys.publicKey);
  const claims: Record<string, unknown> = { htm, htu, jti: crypto.randomUUID() };
  if (accessToken) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken));
    claims.ath = Buffer.from(digest).toString('base64url');
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt()
    .sign(keys.privateKey);
}

describe.each(stores)('DPoP-bound tokens (RFC 9449) on the %s store', (_name, store) => {
  let gh: TestServer;
  let ws: Workspace;
  let client: RegisteredClient;
  let publicClient: RegisteredClient;

  beforeAll(async () => {
    gh = await startGatehouse(store());
    ws = await createWorkspace(gh.container);
    client = await registerClient(gh.container, ws.id);
    publicClient = await registerClient(gh.container, ws.id, { name: 'Acme CLI', public: true });
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('binds the access token to the key; userinfo needs a proof of that key', async () => {
    const rp = await relyingParty(gh.issuer, client);
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const dpop = oidc.getDPoPHandle(rp, keys);
    const { tokens } = await codeFlow(gh.url, rp, ws.owner.email, { scope: 'openid email' }, { dpop });
    expect(tokens.token_type.toLowerCase()).toBe('dpop');
    // With the proof: works.
    const info = await oidc.fetchUserInfo(rp, tokens.access_token, ws.owner.id, { DPoP: dpop });
    expect(info.email).toBe(ws.owner.email);
    const url = rp.serverMetadata().userinfo_endpoint!;
    // As a plain bearer token, or with the DPoP scheme but no proof: refused.
    expect(await userinfoStatus(rp, `Bearer ${tokens.access_token}`)).toBe(401);
    // RFC 6750 §3.1 lets a malformed request (DPoP scheme, no proof) be 400 invalid_request.
    expect([400, 401]).toContain(await userinfoStatus(rp, `DPoP ${tokens.access_token}`));
    // With a proof from another key: refused.
    const thief = await oidc.randomDPoPKeyPair('ES256');
    expect(
      await userinfoStatus(
        rp,
        `DPoP ${tokens.access_token}`,
        await proof(thief, 'GET', url, tokens.access_token),
      ),
    ).toBe(401);
    // With a proof of the right key, but for another token (ath mismatch): refused.
    expect(
      await userinfoStatus(rp, `DPoP ${tokens.access_token}`, await proof(keys, 'GET', url, 'another-token')),
    ).toBe(401);
    // Introspection reports the binding (RFC 9449 §6.2).
    const intro = await oidc.tokenIntrospection(rp, tokens.access_token);
    expect(intro.active).toBe(true);
    expect((intro.cnf as { jkt?: string })?.jkt).toBe(
      await calculateJwkThumbprint(await exportJWK(keys.publicKey)),
    );
  });

  it('puts cnf.jkt into JWT access tokens for the API, and the API refuses them as Bearer tokens', async () => {
    const rp = await relyingParty(gh.issuer, client);
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const dpop = oidc.getDPoPHandle(rp, keys);
    const resource = apiResource(gh.issuer);
    const { tokens } = await codeFlow(
      gh.url,
      rp,
      ws.owner.email,
      { scope: 'openid videos:read', resource },
      { dpop },
    );
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
    expect((decodeJwt(tokens.access_token).cnf as { jkt?: string })?.jkt).toBe(jkt);
    // RFC 9449 §7.1: a resource server must not accept a DPoP-bound token without its proof.
    const url = new URL(`/api/v1/workspaces/${ws.id}`, gh.url).toString();
    const bearer = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status).toBe(401);
    await bearer.arrayBuffer();
  });

  it('serves the API to a DPoP-bound token presented with the DPoP scheme and a proof of its key', async () => {
    const rp = await relyingParty(gh.issuer, client);
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const { tokens } = await codeFlow(
      gh.url,
      rp,
      ws.owner.email,
      { scope: 'openid settings:read', resource: apiResource(gh.issuer) },
      { dpop: oidc.getDPoPHandle(rp, keys) },
    );
    // An app's token acts within its consented scopes: settings:read lets it read the scope catalogue.
    const url = new URL('/api/v1/scopes', gh.url).toString();
    // RFC 9449 §7.1: with the DPoP scheme and a proof of the key, the API serves the request.
    const once = await proof(keys, 'GET', url, tokens.access_token);
    const proven = await fetch(url, {
      headers: { authorization: `DPoP ${tokens.access_token}`, dpop: once },
    });
    expect(proven.status).toBe(200);
    await proven.arrayBuffer();
    // A proof is single-use (RFC 9449 §11.1).
    const replayed = await fetch(url, {
      headers: { authorization: `DPoP ${tokens.access_token}`, dpop: once },
    });
    expect(replayed.status).toBe(401);
    await replayed.arrayBuffer();
    // ...and not with a proof of another key.
    const thief = await oidc.randomDPoPKeyPair('ES256');
    const stolen = await fetch(url, {
      headers: {
        authorization: `DPoP ${tokens.access_token}`,
        dpop: await proof(thief, 'GET', url, tokens.access_token),
      },
    });
    expect(stolen.status).toBe(401);
    await stolen.arrayBuffer();
  });

  it('binds client_credentials tokens, and a dpop_bound client cannot get a bearer token', async () => {
    const service = await registerClient(gh.container, ws.id, {
      name: 'Acme sync',
      grantTypes: ['client_credentials'],
      dpopBound: true,
    });
    const rp = await relyingParty(gh.issuer, service);
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const t = await oidc.clientCredentialsGrant(
      rp,
      { scope: 'videos:read' },
      { DPoP: oidc.getDPoPHandle(rp, keys) },
    );
    expect(t.token_type.toLowerCase()).toBe('dpop');
    const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey));
    expect((decodeJwt(t.access_token).cnf as { jkt?: string })?.jkt).toBe(jkt);
    const bare = await oidc.clientCredentialsGrant(rp, { scope: 'videos:read' }).then(
      () => null,
      (e: unknown) => e as oidc.ResponseBodyError,
    );
    // RFC 9449 §5.2 leaves the error code open; it must be a refusal.
    expect(bare?.error).toMatch(/invalid_request|invalid_dpop_proof|invalid_grant/);
  });

  it('binds a public client refresh token to the key: refreshing needs the same key', async () => {
    const rp = await relyingParty(gh.issuer, publicClient, 'none');
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const { tokens } = await codeFlow(
      gh.url,
      rp,
      ws.owner.email,
      { scope: 'openid offline_access', prompt: 'consent' },
      { dpop: oidc.getDPoPHandle(rp, keys) },
    );
    expect(tokens.refresh_token).toBeTruthy();
    // Without DPoP, or with another key: refused.
    const bare = await oidc.refreshTokenGrant(rp, tokens.refresh_token!).then(
      () => null,
      (e: unknown) => e as oidc.ResponseBodyError,
    );
    expect(bare?.error).toMatch(/invalid_grant|invalid_dpop_proof|invalid_request/);
    const other = oidc.getDPoPHandle(rp, await oidc.randomDPoPKeyPair('ES256'));
    const stolen = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, undefined, { DPoP: other }).then(
      () => null,
      (e: unknown) => e as oidc.ResponseBodyError,
    );
    expect(stolen?.error).toMatch(/invalid_grant|invalid_dpop_proof/);
    // With the right key: a new DPoP-bound pair.
    const fresh = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, undefined, {
      DPoP: oidc.getDPoPHandle(rp, keys),
    });
    expect(fresh.token_type.toLowerCase()).toBe('dpop');
  });

  it('refuses a proof for another URL or method, and a replayed proof', async () => {
    const rp = await relyingParty(gh.issuer, client);
    const keys = await oidc.randomDPoPKeyPair('ES256');
    const { tokens } = await codeFlow(
      gh.url,
      rp,
      ws.owner.email,
      { scope: 'openid' },
      { dpop: oidc.getDPoPHandle(rp, keys) },
    );
    const url = rp.serverMetadata().userinfo_endpoint!;
    const at = `DPoP ${tokens.access_token}`;
    expect(await userinfoStatus(rp, at, await proof(keys, 'POST', url, tokens.access_token))).toBe(401);
    expect(
      await userinfoStatus(rp, at, await proof(keys, 'GET', `${gh.issuer}/elsewhere`, tokens.access_token)),
    ).toBe(401);
    const once = await proof(keys, 'GET', url, tokens.access_token);
    const first = await userinfoStatus(rp, at, once);
    // A server that demands a nonce answers 401 use_dpop_nonce; either way the replay must fail.
    if (first === 200) expect(await userinfoStatus(rp, at, once)).toBe(401);
    else expect(first).toBe(401);
  });
});
