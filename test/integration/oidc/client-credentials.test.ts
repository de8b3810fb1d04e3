import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import {
  apiKeyService,
  apiResource,
  createWorkspace,
  type RegisteredClient,
  rawToken,
  registerClient,
  relyingParty,
  stores,
  verifyRefusal,
  type Workspace,
} from './fixtures.ts';

describe.each(stores)('client_credentials on the %s store', (_name, store) => {
  let gh: TestServer;
  let ws: Workspace;
  let service: RegisteredClient;
  let postService: RegisteredClient;

  beforeAll(async () => {
    gh = await startGatehouse(store());
    ws = await createWorkspace(gh.container);
    service = await registerClient(gh.container, ws.id, {
      name: 'Nightly export',
      grantTypes: ['client_credentials'],
    });
    postService = await registerClient(gh.container, ws.id, {
      name: 'Nightly import',
      grantTypes: ['client_credentials'],
      authMethod: 'client_secret_post',
    });
  });
  afterAll(async () => {
    await gh?.close();
  });

  async function verifyJwt(token: string): Promise<JWTPayload> {
    expect(decodeProtectedHeader(token)).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    const jwks = createRemoteJWKSet(new URL('/jwks', gh.issuer));
    const { payload } = await jwtVerify(token, jwks, {
      issuer: gh.issuer,
      audience: apiResource(gh.issuer),
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    return payload;
  }

  const scopesOf = (p: JWTPayload) =>
    String(p.scope ?? '')
      .split(' ')
      .filter(Boolean)
      .sort();

  it('issues a JWT access token for the API to a static client (basic and post auth)', async () => {
    for (const [client, auth] of [
      [service, 'basic'],
      [postService, 'post'],
    ] as const) {
      const rp = await relyingParty(gh.issuer, client, auth);
      const t = await oidc.clientCredentialsGrant(rp, { scope: 'videos:read' });
      expect(t.token_type.toLowerCase()).toBe('bearer');
      expect(t.expires_in).toBeGreaterThan(0);
      expect(t.expires_in).toBeLessThanOrEqual(4 * 3600);
      expect(t.refresh_token).toBeUndefined();
      const p = await verifyJwt(t.access_token);
      expect(p.client_id).toBe(client.clientId);
      expect(p.sub).toBe(client.clientId); // RFC 9068 §2.2: no resource owner, sub names the client
      expect(p.jti).toEqual(expect.any(String));
      expect(p.workspace_id).toBe(ws.id);
      expect(scopesOf(p)).toEqual(['videos:read']);
      expect(p.exp! - p.iat!).toBe(t.expires_in);
      expect(await verifyRefusal(gh.container, t.access_token)).toBeNull();
      const intro = await oidc.tokenIntrospection(rp, t.access_token);
      expect(intro).toMatchObject({ active: true, client_id: client.clientId });
    }
  });

  it("gives access tokens the workspace's access-token lifetime", async () => {
    const short = await createWorkspace(gh.container, 'initech');
    await gh.container.workspaces.update(short.id, { settings: { access_token_ttl: 600 } });
    const svc = await registerClient(gh.container, short.id, { grantTypes: ['client_credentials'] });
    const t = await oidc.clientCredentialsGrant(await relyingParty(gh.issuer, svc), { scope: 'videos:read' });
    expect(t.expires_in).toBe(600);
    const p = await verifyJwt(t.access_token);
    expect(p.exp! - p.iat!).toBe(600);
    expect(p.workspace_id).toBe(short.id);
  });

  it("never grants a scope outside the workspace's catalogue (refused, or dropped and said so)", async () => {
    const rp = await relyingParty(gh.issuer, service);
    const t = await oidc.clientCredentialsGrant(rp, { scope: 'videos:read no-such:scope' }).then(
      (r) => r,
      (e: unknown) => e as oidc.ResponseBodyError,
    );
    if (t instanceof Error) {
      expect(t.error).toBe('invalid_scope');
    } else {
      // RFC 6749 §3.3: a narrowed grant must say which scope it has.
      expect(t.scope).toBe('videos:read');
      expect(scopesOf(await verifyJwt(t.access_token))).toEqual(['videos:read']);
    }
  });

  it('refuses a client that is not registered for client_credentials', async () => {
    const web = await registerClient(gh.container, ws.id, { name: 'Web app' });
    const res = await rawToken(
      gh.issuer,
      { grant_type: 'client_credentials', scope: 'videos:read' },
      { id: web.clientId, secret: web.clientSecret! },
    );
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
  });

  it('revokes a client_credentials token per RFC 7009: introspection and the token service say so', async () => {
    const rp = await relyingParty(gh.issuer, service);
    const t = await oidc.clientCredentialsGrant(rp, { scope: 'analytics:read' });
    await oidc.tokenRevocation(rp, t.access_token);
    expect((await oidc.tokenIntrospection(rp, t.access_token)).active).toBe(false);
    expect(await verifyRefusal(gh.container, t.access_token)).toBe('token_revoked');
  });

  describe('an API key as client (client_id = key id, client_secret = the key)', () => {
    it("gets a token that verifies against the JWKS and carries exactly the key's scopes", async () => {
      const keys = apiKeyService(gh.container);
      const issued = await keys.create(
        ws.id,
        { name: 'exporter', scopes: ['videos:read', 'comments:read'] },
        { scopes: 'all' },
      );
      const client = { clientId: issued.key.id, clientSecret: issued.secret };
      for (const auth of ['basic', 'post'] as const) {
        const rp = await relyingParty(gh.issuer, client, auth);
        const all = await oidc.clientCredentialsGrant(rp);
        const p = await verifyJwt(all.access_token);
        expect(p.client_id).toBe(issued.key.id);
        expect(p.workspace_id).toBe(ws.id);
        expect(scopesOf(p)).toEqual(['comments:read', 'videos:read']);
        const one = await oidc.clientCredentialsGrant(rp, { scope: 'comments:read' });
        expect(scopesOf(await verifyJwt(one.access_token))).toEqual(['comments:read']);
      }
      // A scope the key does not hold is refused, not silently dropped or granted.
      const rp = await relyingParty(gh.issuer, client);
      const err = await oidc.clientCredentialsGrant(rp, { scope: 'videos:read videos:write' }).then(
        () => null,
        (e: unknown) => e as oidc.ResponseBodyError,
      );
      expect(err?.error).toBe('invalid_scope');
    });

    it('stops working at once when the key is revoked or rotated', async () => {
      const keys = apiKeyService(gh.container);
      const a = await keys.create(ws.id, { name: 'to revoke', scopes: ['tags:read'] }, { scopes: 'all' });
      const basic = { id: a.key.id, secret: a.secret };
      const grant = { grant_type: 'client_credentials' };
      expect((await rawToken(gh.issuer, grant, basic)).status).toBe(200);
      await keys.revoke(ws.id, a.key.id);
      const revoked = await rawToken(gh.issuer, grant, basic);
      expect(revoked.status).toBe(401);
      expect(revoked.body.error).toBe('invalid_client');

      const b = await keys.create(ws.id, { name: 'to rotate', scopes: ['tags:read'] }, { scopes: 'all' });
      expect((await rawToken(gh.issuer, grant, { id: b.key.id, secret: b.secret })).status).toBe(200);
      const rotated = await keys.rotate(ws.id, b.key.id, {}, { scopes: 'all' });
      expect((await rawToken(gh.issuer, grant, { id: b.key.id, secret: b.secret })).status).toBe(401);
      expect((await rawToken(gh.issuer, grant, { id: b.key.id, secret: rotated.secret })).status).toBe(200);
    });

    it('refuses a key presented under another key id, and a key for the authorization code flow', async () => {
      const keys = apiKeyService(gh.container);
      const a = await keys.create(ws.id, { name: 'a', scopes: ['tags:read'] }, { scopes: 'all' });
      const b = await keys.create(ws.id, { name: 'b', scopes: ['tags:read'] }, { scopes: 'all' });
      const swapped = await rawToken(
        gh.issuer,
        { grant_type: 'client_credentials' },
        { id: a.key.id, secret: b.secret },
      );
      expect(swapped.status).toBe(401);
      expect(swapped.body.error).toBe('invalid_client');
      const auth = await fetch(
        new URL(
          `/auth?${new URLSearchParams({
            client_id: a.key.id,
            response_type: 'code',
            scope: 'openid',
            redirect_uri: 'http://127.0.0.1:9/callback',
            code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
            code_challenge_method: 'S256',
          })}`,
          gh.issuer,
        ),
        { redirect: 'manual' },
      );
      expect(auth.status).toBe(400); // no redirect URIs registered: nothing to redirect to
      await auth.arrayBuffer();
    });
  });
});
