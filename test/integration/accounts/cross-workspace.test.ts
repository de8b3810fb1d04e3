import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatehouse, type TestServer } from '../../helpers/server.ts';
import {
  apiResource,
  codeFlow,
  createWorkspace,
  PASSWORD,
  registerClient,
  relyingParty,
  stores,
} from '../oidc/fixtures.ts';

/**
 * Attacks across workspaces that a security review found and that stay fixed: pre-creating
 * someone's account to sign in as them wherever they are invited later, an app of workspace A
 * acting in B through a user who belongs to both, and a password token managing an SSO-only
 * workspace.
 */
describe.each(stores)('across workspaces on the %s store', (_name, store) => {
  let gh: TestServer;
  beforeAll(async () => {
    gh = await startGatehouse(store());
  });
  afterAll(async () => {
    await gh?.close();
  });

  async function call(method: string, path: string, token?: string, body?: unknown) {
    const res = await fetch(new URL(path, gh.url), {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  async function login(email: string, workspace?: string, password = PASSWORD): Promise<string> {
    const res = await call('POST', '/api/v1/auth/login', undefined, { email, password, workspace });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.access_token;
  }

  it("refuses to add an account whose password another workspace's admin chose", async () => {
    const evil = await createWorkspace(gh.container, 'evil');
    const victim = await createWorkspace(gh.container, 'victim');
    const evilToken = await login(evil.owner.email);
    const victimToken = await login(victim.owner.email);
    const target = `cfo.${Date.now()}@victim.test`;
    const pre = await call('POST', `/api/v1/workspaces/${evil.id}/members`, evilToken, {
      email: target,
      password: 'the attacker knows this one',
    });
    expect(pre.status).toBe(201);
    expect(pre.body.user_created).toBe(true);
    expect(
      (await call('DELETE', `/api/v1/workspaces/${evil.id}/members/${pre.body.user_id}`, evilToken)).status,
    ).toBe(204);

    const invite = await call('POST', `/api/v1/workspaces/${victim.id}/members`, victimToken, {
      email: target,
      role: 'admin',
    });
    expect(invite.status).toBe(409);
    expect(invite.body.error).toBe('account_managed_elsewhere');
    const attempt = await call('POST', '/api/v1/auth/login', undefined, {
      email: target,
      password: 'the attacker knows this one',
      workspace: victim.id,
    });
    expect(attempt.status).toBe(404);
    // Its own workspace may add it back; accounts created without a password stay addable anywhere.
    expect(
      (await call('POST', `/api/v1/workspaces/${evil.id}/members`, evilToken, { email: target })).status,
    ).toBe(201);
    const ssoOnly = `sso.${Date.now()}@victim.test`;
    expect(
      (await call('POST', `/api/v1/workspaces/${evil.id}/members`, evilToken, { email: ssoOnly })).status,
    ).toBe(201);
    expect(
      (await call('POST', `/api/v1/workspaces/${victim.id}/members`, victimToken, { email: ssoOnly })).status,
    ).toBe(201);
  });

  it("keeps an app's token in the workspace its user signed in to", async () => {
    const a = await createWorkspace(gh.container, 'apps');
    const b = await createWorkspace(gh.container, 'other');
    // A's owner is also an admin of B: A's app must still get nothing in B.
    await gh.container.workspaces.addMember(b.id, a.owner.id, 'admin');
    const client = await registerClient(gh.container, a.id, {});
    const rp = await relyingParty(gh.issuer, client);
    const { tokens } = await codeFlow(gh.url, rp, a.owner.email, {
      scope: 'openid api_keys:read api_keys:manage',
      resource: apiResource(gh.issuer),
    });
    expect((await call('GET', `/api/v1/keys?workspace_id=${a.id}`, tokens.access_token)).status).toBe(200);
    expect((await call('GET', `/api/v1/keys?workspace_id=${b.id}`, tokens.access_token)).status).toBe(404);
    const create = await call('POST', `/api/v1/keys?workspace_id=${b.id}`, tokens.access_token, {
      name: 'loot',
      scopes: ['videos:read'],
    });
    expect(create.status).toBe(404);
    // The user's own Gatehouse token may act in B: they are an admin there.
    const own = await login(a.owner.email, a.id);
    expect((await call('GET', `/api/v1/keys?workspace_id=${b.id}`, own)).status).toBe(200);
  });

  it('does not let a password token manage a workspace that does not allow password sign-in', async () => {
    const pw = await createWorkspace(gh.container, 'pw');
    const sso = await createWorkspace(gh.container, 'sso');
    await gh.container.workspaces.addMember(sso.id, pw.owner.id, 'owner');
    const token = await login(pw.owner.email, pw.id);
    expect(
      (
        await call('PATCH', `/api/v1/workspaces/${sso.id}`, token, {
          settings: { sign_in_methods: ['saml'] },
        })
      ).status,
    ).toBe(200);
    // From now on SSO only: no password sign-in there, and no password token acting there.
    expect(
      (
        await call('POST', '/api/v1/auth/login', undefined, {
          email: pw.owner.email,
          password: PASSWORD,
          workspace: sso.id,
        })
      ).status,
    ).toBe(403);
    const patch = await call('PATCH', `/api/v1/workspaces/${sso.id}`, token, {
      settings: { sign_in_methods: ['password', 'saml'] },
    });
    expect(patch.status).toBe(403);
    expect(patch.body.error).toBe('sign_in_method_not_allowed');
    const key = await call('POST', `/api/v1/keys?workspace_id=${sso.id}`, token, {
      name: 'x',
      grant_all: true,
    });
    expect(key.status).toBe(403);
    expect(key.body.error).toBe('sign_in_method_not_allowed');
    const client = await call('POST', `/api/v1/workspaces/${sso.id}/clients`, token, {
      client_name: 'sneaky',
      redirect_uris: ['https://app.example.com/cb'],
    });
    expect(client.status).toBe(403);
    expect(client.body.error).toBe('sign_in_method_not_allowed');
    // Its own workspace is unaffected.
    expect((await call('GET', `/api/v1/workspaces/${pw.id}`, token)).status).toBe(200);
  });
});
