import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiResource } from '../../../src/oidc/resources.ts';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { codeFlow, createWorkspace, registerClient, relyingParty, type Workspace } from '../oidc/fixtures.ts';
import { form, stores } from './fixtures.ts';

/**
 * Tokens of the OIDC flows are the same kind as the login API's: lifetimes from the client's
 * workspace, `workspace_id` and `gid` claims, and one revocation path (revoking the refresh
 * token at /token/revocation ends the JWT access tokens of its grant for every verifier).
 * The relying party is openid-client; sign-in goes through the real interaction pages.
 */
describe.each(stores)('OIDC-flow tokens on the %s store', (_name, store) => {
  let gh: TestServer;
  let ws: Workspace;
  let client: { clientId: string; clientSecret?: string };
  let rp: oidc.Configuration;

  beforeAll(async () => {
    gh = await startGatehouse(store());
    ws = await createWorkspace(gh.container);
    await gh.container.workspaces.update(ws.id, {
      settings: { access_token_ttl: 600, refresh_token_ttl: 7200 },
    });
    client = await registerClient(gh.container, ws.id, { name: 'Lifetimes' });
    rp = await relyingParty(gh.issuer, client);
  });
  afterAll(async () => {
    await gh?.close();
  });

  it("gives JWT access tokens and refresh tokens the workspace's lifetimes, and the workspace claim", async () => {
    const resource = apiResource(gh.issuer);
    const { tokens } = await codeFlow(gh.url, rp, ws.owner.email, {
      scope: 'openid email videos:read',
      resource,
    });
    expect(tokens.expires_in).toBe(600);
    const at = decodeJwt(tokens.access_token);
    expect(at.exp! - at.iat!).toBe(600);
    expect(at).toMatchObject({
      aud: resource,
      sub: ws.owner.id,
      client_id: client.clientId,
      workspace_id: ws.id,
    });
    expect(typeof at.gid).toBe('string');
    await expect(gh.container.tokens.verifyAccessToken(tokens.access_token)).resolves.toMatchObject({
      sub: ws.owner.id,
      workspaceId: ws.id,
      grantId: at.gid,
    });
    const rt = await oidc.tokenIntrospection(rp, tokens.refresh_token!);
    expect(rt.active).toBe(true);
    expect(rt.exp! - rt.iat!).toBe(7200);

    // Rotation hands on the remaining lifetime: the family lives 7200 s from sign-in.
    const next = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, { resource });
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    const rt2 = await oidc.tokenIntrospection(rp, next.refresh_token!);
    expect(rt2.exp).toBeLessThanOrEqual(rt.exp!);
    expect(rt2.exp).toBeGreaterThanOrEqual(rt.exp! - 5);
    expect(decodeJwt(next.access_token).gid).toBe(at.gid);

    // One revocation path: revoking the refresh token ends the grant, so its JWTs are refused everywhere.
    await oidc.tokenRevocation(rp, next.refresh_token!);
    await expect(gh.container.tokens.verifyAccessToken(next.access_token)).rejects.toMatchObject({
      code: 'token_revoked',
    });
    const intro = await form(
      `${gh.issuer}/token/introspection`,
      { token: next.access_token },
      { id: client.clientId, secret: client.clientSecret! },
    );
    expect(intro.json).toEqual({ active: false });
    const api = await fetch(new URL(`/api/v1/workspaces/${ws.id}`, gh.url), {
      headers: { authorization: `Bearer ${next.access_token}` },
    });
    expect(api.status).toBe(401);
  });

  it('deleting the client ends its grants: tokens it got are refused', async () => {
    const other = await registerClient(gh.container, ws.id, { name: 'Short-lived' });
    const otherRp = await relyingParty(gh.issuer, other);
    const resource = apiResource(gh.issuer);
    const { tokens } = await codeFlow(gh.url, otherRp, ws.owner.email, { scope: 'openid', resource });
    await expect(gh.container.tokens.verifyAccessToken(tokens.access_token)).resolves.toBeTruthy();
    await gh.container.clients.delete(ws.id, other.clientId);
    await expect(gh.container.tokens.verifyAccessToken(tokens.access_token)).rejects.toMatchObject({
      code: 'token_revoked',
    });
  });
});
