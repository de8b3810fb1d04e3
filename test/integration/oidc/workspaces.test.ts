import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import {
  apiKeyService,
  apiResource,
  codeFlow,
  createWorkspace,
  type RegisteredClient,
  rawToken,
  registerClient,
  relyingParty,
  stores,
  type Workspace,
} from './fixtures.ts';

/** Nothing crosses workspaces: clients, tokens and keys of A are worth nothing in B. */
describe.each(stores)('workspace isolation of OAuth clients and tokens on the %s store', (_name, store) => {
  let gh: TestServer;
  let a: Workspace;
  let b: Workspace;
  let aWeb: RegisteredClient;
  let bWeb: RegisteredClient;
  let bService: RegisteredClient;

  beforeAll(async () => {
    gh = await startGatehouse(store());
    a = await createWorkspace(gh.container, 'acme');
    b = await createWorkspace(gh.container, 'globex');
    aWeb = await registerClient(gh.container, a.id, { name: 'Acme web' });
    bWeb = await registerClient(gh.container, b.id, { name: 'Globex web' });
    bService = await registerClient(gh.container, b.id, {
      name: 'Globex sync',
      grantTypes: ['client_credentials'],
    });
  });
  afterAll(async () => {
    await gh?.close();
  });

  const api = (path: string, token: string) =>
    fetch(new URL(path, gh.url), { headers: { authorization: `Bearer ${token}` } }).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });

  it("lets A's member use A's token on A's workspace but not on B's", async () => {
    const rp = await relyingParty(gh.issuer, aWeb);
    const { tokens } = await codeFlow(gh.url, rp, a.owner.email, {
      scope: 'openid api_keys:read',
      resource: apiResource(gh.issuer),
    });
    // An app's token acts within its consented scopes, in its user's workspace only.
    expect(await api(`/api/v1/keys?workspace_id=${a.id}`, tokens.access_token)).toBe(200);
    expect(await api(`/api/v1/keys?workspace_id=${b.id}`, tokens.access_token)).toBe(404);
    // ...and never manages workspaces or members, not even the user's own.
    expect(await api(`/api/v1/workspaces/${a.id}`, tokens.access_token)).toBe(403);
    expect([403, 404]).toContain(await api(`/api/v1/workspaces/${b.id}/members`, tokens.access_token));
  });

  it("does not let B's clients introspect or revoke A's tokens", async () => {
    const rp = await relyingParty(gh.issuer, aWeb);
    const { tokens } = await codeFlow(gh.url, rp, a.owner.email, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    for (const other of [bWeb, bService]) {
      const brp = await relyingParty(gh.issuer, other);
      expect((await oidc.tokenIntrospection(brp, tokens.access_token)).active).toBe(false);
      expect((await oidc.tokenIntrospection(brp, tokens.refresh_token!)).active).toBe(false);
      await oidc.tokenRevocation(brp, tokens.access_token).catch(() => undefined);
      await oidc.tokenRevocation(brp, tokens.refresh_token!).catch(() => undefined);
    }
    // Still alive for their own client.
    expect((await oidc.tokenIntrospection(rp, tokens.access_token)).active).toBe(true);
    expect((await oidc.refreshTokenGrant(rp, tokens.refresh_token!)).access_token).toBeTruthy();
  });

  it("gives a B client's client_credentials token nothing in A", async () => {
    const brp = await relyingParty(gh.issuer, bService);
    const t = await oidc.clientCredentialsGrant(brp, { scope: 'videos:read' });
    expect([401, 403, 404]).toContain(await api(`/api/v1/workspaces/${a.id}`, t.access_token));
    const arp = await relyingParty(gh.issuer, aWeb);
    expect((await oidc.tokenIntrospection(arp, t.access_token)).active).toBe(false);
  });

  it("scopes an API key's token to the key's workspace", async () => {
    const key = await apiKeyService(gh.container).create(
      a.id,
      { name: 'acme sync', scopes: ['videos:read'] },
      { scopes: 'all' },
    );
    const res = await rawToken(
      gh.issuer,
      { grant_type: 'client_credentials' },
      { id: key.key.id, secret: key.secret },
    );
    expect(res.status).toBe(200);
    const token = String(res.body.access_token);
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(payload.workspace_id).toBe(a.id);
    expect([401, 403, 404]).toContain(await api(`/api/v1/workspaces/${b.id}`, token));
    const brp = await relyingParty(gh.issuer, bService);
    expect((await oidc.tokenIntrospection(brp, token)).active).toBe(false);
  });
});
