import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { type FakeClock, fakeClock } from '../../helpers/stores.ts';
import { form, stores, type Tenant, tenant } from './fixtures.ts';

const ALL = { scopes: 'all' as const };

/**
 * API keys as OAuth clients (client_id = key id, client_secret = the key, client_credentials
 * only): the JWT carries only the key's scopes, narrowed on request, never widened; revoked,
 * expired, unknown or mismatched keys are invalid_client; tokens of a revoked key stop verifying.
 */
describe.each(stores)('API keys as OAuth clients on the %s store', (_name, store) => {
  let gh: TestServer;
  let clock: FakeClock;
  let t: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    clock = fakeClock(new Date());
    gh = await startGatehouse(store(), {}, { clock });
    t = await tenant(gh.container);
    other = await tenant(gh.container, 'other');
    await gh.container.workspaces.update(t.workspaceId, { settings: { access_token_ttl: 900 } });
  });
  afterAll(async () => {
    await gh?.close();
  });
  afterEach(() => {
    clock.set(new Date());
  });

  const key = (input: Parameters<TestServer['container']['apiKeys']['create']>[1], ws = t.workspaceId) =>
    gh.container.apiKeys.create(ws, input, ALL);
  const token = (
    k: { key: { id: string }; secret: string },
    body: Record<string, string> = {},
    method: 'basic' | 'post' = 'basic',
  ) =>
    form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials', ...body },
      { id: k.key.id, secret: k.secret, method },
    );
  const scopes = (jwt: unknown) =>
    String(decodeJwt(String(jwt)).scope ?? '')
      .split(' ')
      .filter(Boolean)
      .sort();

  it("issues a JWT with exactly the key's scopes, through basic and post, with the workspace's lifetime", async () => {
    const k = await key({ name: 'exporter', scopes: ['videos:read', 'comments:read'] });
    for (const method of ['basic', 'post'] as const) {
      const res = await token(k, {}, method);
      expect(res.status, method).toBe(200);
      expect(res.json).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
      expect(scopes(res.json.access_token)).toEqual(['comments:read', 'videos:read']);
      const claims = decodeJwt(String(res.json.access_token));
      expect(claims).toMatchObject({ client_id: k.key.id, sub: k.key.id, workspace_id: t.workspaceId });
      expect(claims.exp! - claims.iat!).toBe(900);
      await expect(
        gh.container.tokens.verifyAccessToken(String(res.json.access_token)),
      ).resolves.toMatchObject({
        clientId: k.key.id,
        workspaceId: t.workspaceId,
      });
    }
  });

  it("gives all of the key's scopes when the resource is named but no scope", async () => {
    const k = await key({ name: 'named', scopes: ['videos:read', 'comments:read'] });
    const res = await token(k, { resource: `${gh.issuer}/api` });
    expect(res.status).toBe(200);
    expect(scopes(res.json.access_token)).toEqual(['comments:read', 'videos:read']);
  });

  it('narrows to a requested subset and refuses any scope the key does not hold', async () => {
    const k = await key({ name: 'reader', scopes: ['videos:read', 'comments:read'] });
    const narrow = await token(k, { scope: 'videos:read' });
    expect(narrow.status).toBe(200);
    expect(narrow.json.scope).toBe('videos:read');
    expect(scopes(narrow.json.access_token)).toEqual(['videos:read']);
    for (const scope of ['videos:write', 'videos:read videos:write', 'no:such']) {
      const res = await token(k, { scope });
      expect(res.status, scope).toBe(400);
      expect(res.json.error).toBe('invalid_scope');
    }
  });

  it('a grant-all key may ask for any scope of the catalogue, and only those', async () => {
    const k = await key({ name: 'root', grantAll: true });
    const res = await token(k, { scope: 'videos:write comments:read' });
    expect(res.status).toBe(200);
    expect(scopes(res.json.access_token)).toEqual(['comments:read', 'videos:write']);
    const all = await token(k);
    expect(scopes(all.json.access_token)).toContain('videos:read');
    const bad = await token(k, { scope: 'made:up' });
    expect(bad.json.error).toBe('invalid_scope');
  });

  it('refuses unknown, mismatched, revoked and expired keys as invalid_client', async () => {
    const a = await key({ name: 'a', scopes: ['videos:read'] });
    const b = await key({ name: 'b', scopes: ['videos:read'] });
    const mismatched = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials' },
      { id: a.key.id, secret: b.secret },
    );
    expect(mismatched).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    const unknown = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials' },
      { id: 'key_0000000000000000', secret: a.secret },
    );
    expect(unknown).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    const tampered = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials' },
      { id: a.key.id, secret: `${a.secret.slice(0, -1)}${a.secret.endsWith('x') ? 'y' : 'x'}` },
    );
    expect(tampered.json.error).toBe('invalid_client');

    const issued = await token(a);
    expect(issued.status).toBe(200);
    await gh.container.apiKeys.revoke(t.workspaceId, a.key.id);
    expect((await token(a)).json.error).toBe('invalid_client');
    // The token it got before is refused from now on.
    await expect(
      gh.container.tokens.verifyAccessToken(String(issued.json.access_token)),
    ).rejects.toMatchObject({
      code: 'token_revoked',
    });

    const soon = await key({
      name: 'soon',
      scopes: ['videos:read'],
      expiresAt: new Date(clock.now().getTime() + 60_000),
    });
    expect((await token(soon)).status).toBe(200);
    clock.advance(61_000);
    expect((await token(soon)).json.error).toBe('invalid_client');
  });

  it('refuses a key at the authorization endpoint and for other grants', async () => {
    const k = await key({ name: 'machine', scopes: ['videos:read'] });
    const refresh = await form(
      `${gh.issuer}/token`,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { id: k.key.id, secret: k.secret },
    );
    expect(refresh.json.error).toBe('unauthorized_client');
    const auth = await fetch(
      `${gh.issuer}/auth?client_id=${k.key.id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://a.test/cb')}`,
      { redirect: 'manual', headers: { accept: 'application/json' } },
    );
    expect(auth.status).toBe(400);
  });

  it('introspection describes a key to clients of its workspace only', async () => {
    const k = await key({ name: 'presented', scopes: ['videos:read'] });
    const rs = await gh.container.clients.create(t.workspaceId, {
      name: 'API',
      grantTypes: ['client_credentials'],
    });
    const foreign = await gh.container.clients.create(other.workspaceId, {
      name: 'API',
      grantTypes: ['client_credentials'],
    });
    const mine = await form(
      `${gh.issuer}/token/introspection`,
      { token: k.secret },
      { id: rs.client.id, secret: rs.secret! },
    );
    expect(mine.json).toMatchObject({
      active: true,
      token_type: 'api_key',
      client_id: k.key.id,
      workspace_id: t.workspaceId,
      scope: 'videos:read',
    });
    const theirs = await form(
      `${gh.issuer}/token/introspection`,
      { token: k.secret },
      {
        id: foreign.client.id,
        secret: foreign.secret!,
      },
    );
    expect(theirs.json).toEqual({ active: false });
    // A JWT the key got is described to its workspace's resource server, not to another's.
    const jwt = String((await token(k)).json.access_token);
    const described = await form(
      `${gh.issuer}/token/introspection`,
      { token: jwt },
      { id: rs.client.id, secret: rs.secret! },
    );
    expect(described.json).toMatchObject({
      active: true,
      client_id: k.key.id,
      scope: 'videos:read',
      token_type: 'Bearer',
    });
    const hidden = await form(
      `${gh.issuer}/token/introspection`,
      { token: jwt },
      { id: foreign.client.id, secret: foreign.secret! },
    );
    expect(hidden.json).toEqual({ active: false });
    await gh.container.apiKeys.revoke(t.workspaceId, k.key.id);
    const after = await form(
      `${gh.issuer}/token/introspection`,
      { token: k.secret },
      { id: rs.client.id, secret: rs.secret! },
    );
    expect(after.json).toEqual({ active: false });
  });
});
