import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrap } from '../../../src/accounts/bootstrap.ts';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import { authorizeUrl, createTenant } from '../interactions/fixtures.ts';
import { CALLBACK } from '../interactions/harness.ts';
import { HttpBrowser, inputValue } from '../interactions/http-browser.ts';
import {
  apiResource,
  codeFlow,
  createWorkspace,
  PASSWORD,
  registerClient,
  relyingParty,
} from '../oidc/fixtures.ts';
import { addUser, bearer, form, stores } from './fixtures.ts';

/**
 * The security review's findings against the token core, each replayed as the attack it was
 * (real server, both stores): what must stop working does, what must keep working still does.
 */
describe.each(stores)('token-core security on the %s store', (_name, store) => {
  let gh: TestServer;
  let boot: Awaited<ReturnType<typeof bootstrap>>;

  beforeAll(async () => {
    gh = await startGatehouse(store(), { BOOTSTRAP_ADMIN_PASSWORD: 'bootstrap password 123' });
    boot = await bootstrap(gh.container);
  });
  afterAll(async () => {
    await gh?.close();
  });

  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(new URL(path, gh.url), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const cc = async (id: string, secret: string, extra: Record<string, string> = {}) => {
    const r = await form(
      new URL('/token', gh.issuer).toString(),
      { grant_type: 'client_credentials', ...extra },
      { id, secret },
    );
    expect(r.status).toBe(200);
    return String(r.json.access_token);
  };
  const introspect = async (token: string, id: string, secret: string) =>
    (await form(new URL('/token/introspection', gh.issuer).toString(), { token }, { id, secret })).json;

  it('finding 3: a disabled user’s access token is refused at once (token_revoked)', async () => {
    const ws = await createWorkspace(gh.container, 'dis');
    const token = await bearer(gh.container, ws.owner.id, ws.id);
    expect((await call('GET', '/api/v1/keys', token)).status).toBe(200);
    await gh.container.accounts.setDisabled(ws.owner.id, true);
    const after = await call('POST', '/api/v1/keys', token, { name: 'backdoor', grant_all: true });
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('token_revoked');
    await expect(gh.container.tokens.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'token_revoked',
    });
    // Enabled again: the same (unexpired, unrevoked) token works again; nothing else was changed.
    await gh.container.accounts.setDisabled(ws.owner.id, false);
    expect((await call('GET', '/api/v1/keys', token)).status).toBe(200);
  });

  it('finding 3: a removed member’s token for that workspace dies at once', async () => {
    const ws = await createWorkspace(gh.container, 'rm');
    const bob = await addUser(gh.container, ws.id, 'admin');
    const token = await bearer(gh.container, bob.id, ws.id);
    expect((await call('GET', '/api/v1/keys', token)).status).toBe(200);
    expect((await call('GET', '/api/v1/me', token)).status).toBe(200);
    await gh.container.workspaces.removeMember(ws.id, bob.id);
    const after = await call('GET', '/api/v1/me', token);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('token_revoked');
    await expect(gh.container.tokens.verifyAccessToken(token)).rejects.toMatchObject({
      code: 'token_revoked',
    });
  });

  it('finding 4: rotating an API key ends the client_credentials tokens minted before', async () => {
    const ws = await createWorkspace(gh.container, 'rot');
    const key = await gh.container.apiKeys.create(
      ws.id,
      { name: 'k', scopes: ['api_keys:read', 'videos:read'] },
      { scopes: 'all' },
    );
    const old = await cc(key.key.id, key.secret);
    expect((await call('GET', '/api/v1/keys', old)).status).toBe(200);
    const rotated = await gh.container.apiKeys.rotate(ws.id, key.key.id, {}, { scopes: 'all' });
    const after = await call('GET', '/api/v1/keys', old);
    expect(after.status).toBe(401);
    expect(after.body.error).toBe('token_revoked');
    expect((await introspect(old, key.key.id, rotated.secret)).active).toBe(false);
    // A token minted with the new secret, in the same second, works.
    const fresh = await cc(key.key.id, rotated.secret);
    expect((await call('GET', '/api/v1/keys', fresh)).status).toBe(200);
  });

  it('finding 4: during a rotation grace period, earlier tokens live; the grace ending ends them', async () => {
    const ws = await createWorkspace(gh.container, 'grace');
    const key = await gh.container.apiKeys.create(
      ws.id,
      { name: 'k', scopes: ['api_keys:read'] },
      { scopes: 'all' },
    );
    const old = await cc(key.key.id, key.secret);
    const rotated = await gh.container.apiKeys.rotate(
      ws.id,
      key.key.id,
      { graceSeconds: 3600 },
      { scopes: 'all' },
    );
    const duringGrace = await cc(key.key.id, key.secret); // the old secret still works: so do its tokens
    expect((await call('GET', '/api/v1/keys', old)).status).toBe(200);
    expect((await call('GET', '/api/v1/keys', duringGrace)).status).toBe(200);
    // Rotating again ends the grace (the previous secret is replaced): both die, the new one's live.
    const again = await gh.container.apiKeys.rotate(ws.id, key.key.id, {}, { scopes: 'all' });
    expect((await call('GET', '/api/v1/keys', old)).status).toBe(401);
    expect((await call('GET', '/api/v1/keys', duringGrace)).status).toBe(401);
    expect(rotated.secret).not.toBe(again.secret);
    expect((await call('GET', '/api/v1/keys', await cc(key.key.id, again.secret))).status).toBe(200);
  });

  it('finding 4: rotating a registered client’s secret ends its earlier client_credentials tokens', async () => {
    const ws = await createWorkspace(gh.container, 'clirot');
    const app = await registerClient(gh.container, ws.id, {
      name: 'svc',
      grantTypes: ['client_credentials'],
    });
    const old = await cc(app.clientId, app.clientSecret!, { scope: 'api_keys:read' });
    expect((await gh.container.tokens.verifyAccessToken(old)).scopes).toEqual(['api_keys:read']);
    const rotated = await gh.container.clients.rotateSecret(ws.id, app.clientId);
    await expect(gh.container.tokens.verifyAccessToken(old)).rejects.toMatchObject({ code: 'token_revoked' });
    expect((await introspect(old, app.clientId, rotated.secret!)).active).toBe(false);
    const fresh = await cc(app.clientId, rotated.secret!, { scope: 'api_keys:read' });
    expect((await gh.container.tokens.verifyAccessToken(fresh)).clientId).toBe(app.clientId);
    expect((await introspect(fresh, app.clientId, rotated.secret!)).active).toBe(true);
  });

  it('finding 5: a scope removed from a key leaves its client_credentials tokens at once', async () => {
    const ws = await createWorkspace(gh.container, 'scope');
    const key = await gh.container.apiKeys.create(
      ws.id,
      { name: 'k', scopes: ['api_keys:read', 'videos:read'] },
      { scopes: 'all' },
    );
    const token = await cc(key.key.id, key.secret);
    expect((await call('GET', '/api/v1/keys', token)).status).toBe(200);
    await gh.container.apiKeys.update(ws.id, key.key.id, { scopes: ['videos:read'] }, { scopes: 'all' });
    expect((await call('GET', '/api/v1/keys', token)).status).toBe(403);
    expect((await gh.container.tokens.verifyAccessToken(token)).scopes).toEqual(['videos:read']);
    expect((await introspect(token, key.key.id, key.secret)).scope).toBe('videos:read');
    // A grant_all key keeps what its token was minted with.
    const all = await gh.container.apiKeys.create(ws.id, { name: 'all', grantAll: true }, { scopes: 'all' });
    const allToken = await cc(all.key.id, all.secret, { scope: 'api_keys:read' });
    expect((await gh.container.tokens.verifyAccessToken(allToken)).scopes).toEqual(['api_keys:read']);
  });

  it('finding 7: a resource indicator belongs to one workspace; Gatehouse’s API is nobody’s', async () => {
    const RES = `https://api.victim-${Date.now()}.example`;
    const b = await createWorkspace(gh.container, 'victim');
    const a = await createWorkspace(gh.container, 'attacker');
    await registerClient(gh.container, b.id, {
      name: 'B api',
      grantTypes: ['client_credentials'],
      resources: [RES],
    });
    // B's second client may list it too.
    await registerClient(gh.container, b.id, {
      name: 'B two',
      grantTypes: ['client_credentials'],
      resources: [RES],
    });
    const bToken = await bearer(gh.container, b.owner.id, b.id);
    const aToken = await bearer(gh.container, a.owner.id, a.id);
    const taken = await call('POST', `/api/v1/workspaces/${a.id}/clients`, aToken, {
      client_name: 'evil',
      grant_types: ['client_credentials'],
      resources: [RES],
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toBe('resource_taken');
    expect(String(taken.body.message)).toContain(RES);
    // Nor through an edit.
    const own = await call('POST', `/api/v1/workspaces/${a.id}/clients`, aToken, {
      client_name: 'ok',
      grant_types: ['client_credentials'],
    });
    expect(own.status).toBe(201);
    const patch = await call('PATCH', `/api/v1/workspaces/${a.id}/clients/${own.body.client_id}`, aToken, {
      resources: [RES],
    });
    expect(patch.status).toBe(409);
    for (const gatehouse of [apiResource(gh.issuer), `${apiResource(gh.issuer)}/`]) {
      const r = await call('POST', `/api/v1/workspaces/${b.id}/clients`, bToken, {
        client_name: 'shadow',
        grant_types: ['client_credentials'],
        resources: [gatehouse],
      });
      expect(r.status).toBe(400);
      expect(String(r.body.message)).toMatch(/Gatehouse/);
    }
  });

  it('finding 8: a removed member’s OAuth app can no longer refresh (invalid_grant)', async () => {
    const ws = await createWorkspace(gh.container, 'refresh');
    const bob = await gh.container.accounts.createUser({
      email: `bob.${Date.now()}@refresh.test`,
      password: PASSWORD,
      emailVerified: true,
    });
    await gh.container.workspaces.addMember(ws.id, bob.id, 'admin');
    const app = await registerClient(gh.container, ws.id, { name: 'A app' });
    const rp = await relyingParty(gh.issuer, app);
    const { tokens } = await codeFlow(gh.url, rp, bob.email, {
      scope: 'openid offline_access api_keys:read',
      resource: apiResource(gh.issuer),
      prompt: 'consent',
    });
    const refreshed = await oidc.refreshTokenGrant(rp, tokens.refresh_token!, {
      resource: apiResource(gh.issuer),
    } as never);
    expect(refreshed.access_token).toBeTruthy();
    await gh.container.workspaces.removeMember(ws.id, bob.id);
    const err = await oidc
      .refreshTokenGrant(rp, refreshed.refresh_token!, { resource: apiResource(gh.issuer) } as never)
      .then(
        () => undefined,
        (e: { error?: string }) => e.error,
      );
    expect(err).toBe('invalid_grant');
    // The app's access token for that workspace died with the membership, too.
    expect((await call('GET', '/api/v1/keys', refreshed.access_token)).status).toBe(401);
  });

  it('finding 3: a disabled user’s browser session goes back to sign-in at /authorize (no 500)', async () => {
    const team = await createTenant(gh.container, CALLBACK, 'sess');
    const carl = await gh.container.accounts.createUser({
      email: `carl.${Date.now()}@sess.test`,
      password: PASSWORD,
    });
    await gh.container.workspaces.addMember(team.workspaceId, carl.id, 'member');
    const b = new HttpBrowser(gh.url);
    const uid = (p: { url: string }) => new URL(p.url).pathname.split('/').pop()!;
    const login = await b.follow(await b.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    const ask = await b.follow(
      await b.post(`/interaction/${uid(login)}/login`, {
        csrf: inputValue(login.html, 'csrf')!,
        email: carl.email,
        password: PASSWORD,
      }),
    );
    await b.follow(await b.post(`/interaction/${uid(ask)}/confirm`, { csrf: inputValue(ask.html, 'csrf')! }));
    const silent = await b.follow(await b.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    expect(new URL(silent.location!).searchParams.get('code')).toBeTruthy();

    await gh.container.accounts.setDisabled(carl.id, true);
    const after = await b.follow(await b.get(authorizeUrl(gh.issuer, team, { scope: 'openid' })));
    expect(after.status).toBe(200);
    expect(after.url).toMatch(/\/interaction\/[^/]+$/);
    expect(after.html).toContain('name="password"');
    const again = await b.follow(
      await b.post(`/interaction/${uid(after)}/login`, {
        csrf: inputValue(after.html, 'csrf')!,
        email: carl.email,
        password: PASSWORD,
      }),
    );
    expect(again.location ? new URL(again.location).searchParams.get('code') : null).toBeNull();
  });

  it('finding 11: a store bootstrapped before the id was recorded: its oldest workspace, pinned', async () => {
    const legacy = await startGatehouse(store());
    try {
      const first = await createWorkspace(legacy.container, 'first'); // what bootstrap made, back then
      const later = await createWorkspace(legacy.container, 'later');
      const listKeys = async (userId: string, workspaceId: string) =>
        (
          await fetch(new URL('/api/v1/admin/signing-keys', legacy.url), {
            headers: { authorization: `Bearer ${await bearer(legacy.container, userId, workspaceId)}` },
          })
        ).status;
      expect(await listKeys(later.owner.id, later.id)).toBe(404);
      expect(await listKeys(first.owner.id, first.id)).toBe(200);
      // Pinned: the later workspace's owner taking slug `default` changes nothing.
      await legacy.container.workspaces.create({ name: 'Default', slug: 'default' }, later.owner.id);
      const dflt = (await legacy.container.workspaces.getBySlug('default'))!;
      expect(await listKeys(later.owner.id, dflt.id)).toBe(404);
      expect(await listKeys(first.owner.id, first.id)).toBe(200);
    } finally {
      await legacy.close();
    }
  });

  it('finding 11: the signing-key operator is the bootstrap workspace by id, never slug `default`', async () => {
    expect(boot).not.toBeNull();
    const opToken = await bearer(gh.container, boot!.owner.id, boot!.workspace.id);
    // The operator renames its workspace: still the operator.
    expect(
      (await call('PATCH', `/api/v1/workspaces/${boot!.workspace.id}`, opToken, { slug: 'platform' })).status,
    ).toBe(200);
    expect((await call('GET', '/api/v1/admin/signing-keys', opToken)).status).toBe(200);
    // Someone else takes the freed slug `default`: not the operator.
    const other = await createWorkspace(gh.container, 'rando');
    const t = await bearer(gh.container, other.owner.id, other.id);
    const mk = await call('POST', '/api/v1/workspaces', t, { name: 'Default', slug: 'default' });
    expect(mk.status).toBe(201);
    const tDefault = await bearer(gh.container, other.owner.id, String(mk.body.id));
    for (const tok of [t, tDefault]) {
      const rot = await call('POST', '/api/v1/admin/signing-keys/rotate', tok, {});
      expect([403, 404]).toContain(rot.status);
    }
    expect((await call('POST', '/api/v1/admin/signing-keys/rotate', opToken, {})).status).toBe(200);
  });
});
