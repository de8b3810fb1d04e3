import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CliResult, runCli } from '../../helpers/cli.ts';
import { startGatehouse, type TestServer, tempDir } from '../../helpers/server.ts';
import { addUser, bearer, form, stores, type Tenant, tenant } from './fixtures.ts';

/**
 * The management API of OAuth clients (ApiRouter + zod, so OpenAPI stays true), against a real
 * server on each store; then a client registered through it works at /token, and stops working
 * when its secret is rotated or it is deleted.
 */
describe.each(stores)('the clients API on the %s store', (_name, store) => {
  let gh: TestServer;
  let t: Tenant;
  let other: Tenant;
  let owner: string;

  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(new URL(path, gh.url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    gh = await startGatehouse(store());
    t = await tenant(gh.container);
    other = await tenant(gh.container, 'other');
    owner = await bearer(gh.container, t.owner.id, t.workspaceId);
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('registers a confidential client (secret shown once) and lists, reads, patches it', async () => {
    const base = `/api/v1/workspaces/${t.workspaceId}/clients`;
    const created = await api('POST', base, owner, {
      client_name: 'Acme Web',
      redirect_uris: ['https://app.acme.test/callback'],
      post_logout_redirect_uris: ['https://app.acme.test/'],
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    expect(created.json).toMatchObject({
      object: 'oauth_client',
      client_name: 'Acme Web',
      client_type: 'confidential',
      workspace_id: t.workspaceId,
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    const id = created.json.client_id as string;
    const secret = created.json.client_secret as string;
    expect(secret).toMatch(/^gcs_/);
    expect(created.headers.get('location')).toBe(`${base}/${id}`);

    const got = await api('GET', `${base}/${id}`, owner);
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.json)).not.toContain(secret);
    expect(got.json.client_secret).toBeUndefined();
    const list = await api('GET', base, owner);
    expect(list.json.clients.map((c: { client_id: string }) => c.client_id)).toContain(id);
    expect(JSON.stringify(list.json)).not.toContain(secret);

    const patched = await api('PATCH', `${base}/${id}`, owner, {
      client_name: 'Acme Web 2',
      dpop_bound_access_tokens: true,
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ client_name: 'Acme Web 2', dpop_bound_access_tokens: true });
    const empty = await api('PATCH', `${base}/${id}`, owner, {});
    expect(empty.status).toBe(400);
    const unknown = await api('PATCH', `${base}/cli_00000000000000000000`, owner, { client_name: 'x' });
    expect(unknown.status).toBe(404);
  });

  it('registers a public client without a secret', async () => {
    const res = await api('POST', `/api/v1/workspaces/${t.workspaceId}/clients`, owner, {
      client_name: 'Acme CLI',
      client_type: 'public',
      redirect_uris: ['http://127.0.0.1:7777/callback'],
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ client_type: 'public', token_endpoint_auth_method: 'none' });
    expect(res.json.client_secret).toBeUndefined();
  });

  it('answers bad input with a 400 naming the field', async () => {
    const base = `/api/v1/workspaces/${t.workspaceId}/clients`;
    for (const [body, field] of [
      [{ client_name: 'x', redirect_uris: ['http://app.acme.test/cb'] }, 'redirect_uris.0'],
      [{ client_name: 'x', redirect_uris: ['https://app.acme.test/cb#x'] }, 'redirect_uris.0'],
      [{ client_name: '', redirect_uris: ['https://app.acme.test/cb'] }, 'client_name'],
      [{ client_name: 'x', grant_types: ['password'] }, 'grant_types.0'],
      [{ client_name: 'x', redirect_uris: 'https://a.test/cb' }, 'redirect_uris'],
      [{ client_name: 'x', surprise: 1 }, ''],
      [{ client_name: 'x' }, 'redirect_uris'],
      [{ client_name: 'x', client_type: 'public', grant_types: ['client_credentials'] }, 'grant_types'],
    ] as const) {
      const res = await api('POST', base, owner, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toBe('invalid_request');
      if (field) expect(res.json.message).toContain(field);
    }
    const raw = await fetch(new URL(base, gh.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(raw.status).toBe(400);
  });

  it('lets only owners and admins in; nothing crosses workspaces', async () => {
    const base = `/api/v1/workspaces/${t.workspaceId}/clients`;
    const admin = await addUser(gh.container, t.workspaceId, 'admin');
    const member = await addUser(gh.container, t.workspaceId, 'member');
    const adminToken = await bearer(gh.container, admin.id, t.workspaceId);
    const memberToken = await bearer(gh.container, member.id, t.workspaceId);
    const outsiderToken = await bearer(gh.container, other.owner.id, other.workspaceId);

    const byAdmin = await api('POST', base, adminToken, {
      client_name: 'Admin app',
      grant_types: ['client_credentials'],
    });
    expect(byAdmin.status).toBe(201);
    const id = byAdmin.json.client_id as string;

    const asMember = await api('GET', base, memberToken);
    expect(asMember.status).toBe(403);
    expect(
      (await api('POST', base, memberToken, { client_name: 'x', grant_types: ['client_credentials'] }))
        .status,
    ).toBe(403);

    for (const [method, path] of [
      ['GET', base],
      ['GET', `${base}/${id}`],
      ['PATCH', `${base}/${id}`],
      ['DELETE', `${base}/${id}`],
      ['POST', `${base}/${id}/secret`],
    ] as const) {
      const res = await api(
        method,
        path,
        outsiderToken,
        method === 'PATCH' ? { client_name: 'mine' } : undefined,
      );
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    // The other workspace's owner addressing the client through their own workspace: 404 too.
    const viaOwn = await api('GET', `/api/v1/workspaces/${other.workspaceId}/clients/${id}`, outsiderToken);
    expect(viaOwn.status).toBe(404);
    expect((await api('GET', base, 'garbage')).status).toBe(401);
    const anonymous = await fetch(new URL(base, gh.url));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('a registered client works at /token; rotating its secret and deleting it take effect at once', async () => {
    const base = `/api/v1/workspaces/${t.workspaceId}/clients`;
    const created = await api('POST', base, owner, {
      client_name: 'Exporter',
      grant_types: ['client_credentials'],
    });
    const id = created.json.client_id as string;
    const secret = created.json.client_secret as string;
    const token = async (s: string) =>
      form(
        `${gh.issuer}/token`,
        { grant_type: 'client_credentials', scope: 'videos:read' },
        { id, secret: s },
      );

    const first = await token(secret);
    expect(first.status).toBe(200);
    const access = first.json.access_token as string;
    await expect(gh.container.tokens.verifyAccessToken(access)).resolves.toMatchObject({
      clientId: id,
      workspaceId: t.workspaceId,
      scopes: ['videos:read'],
    });

    const rotated = await api('POST', `${base}/${id}/secret`, owner);
    expect(rotated.status).toBe(200);
    const next = rotated.json.client_secret as string;
    expect(next).not.toBe(secret);
    expect((await token(secret)).json.error).toBe('invalid_client');
    expect((await token(next)).status).toBe(200);

    expect((await api('DELETE', `${base}/${id}`, owner)).status).toBe(204);
    expect((await token(next)).json.error).toBe('invalid_client');
    await expect(gh.container.tokens.verifyAccessToken(access)).rejects.toMatchObject({
      code: 'token_revoked',
    });
    expect((await api('GET', `${base}/${id}`, owner)).status).toBe(404);
  });

  it('documents every clients operation in the OpenAPI registry and document, with JSON schemas', async () => {
    // Read from the registry rather than /api/v1/openapi.json, so another feature's schema cannot hide ours.
    const ops = gh.container.openapi.operations.filter((o) => o.path.includes('/clients'));
    const base = '/api/v1/workspaces/:workspaceId/clients';
    expect(ops.map((o) => `${o.method} ${o.path}`).sort()).toEqual(
      [
        `delete ${base}/:clientId`,
        `get ${base}`,
        `get ${base}/:clientId`,
        `patch ${base}/:clientId`,
        `post ${base}`,
        `post ${base}/:clientId/secret`,
      ].sort(),
    );
    for (const op of ops) {
      if (!op.body) continue;
      const schema = z.toJSONSchema(op.body, { io: 'input' }) as { properties?: Record<string, unknown> };
      expect(Object.keys(schema.properties ?? {})).toContain('client_name');
    }
    const res = await fetch(new URL('/api/v1/openapi.json', gh.url));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { paths: Record<string, Record<string, unknown>> };
    const path = '/api/v1/workspaces/{workspaceId}/clients';
    expect(Object.keys(doc.paths[path] ?? {}).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths[`${path}/{clientId}`] ?? {}).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(doc.paths[`${path}/{clientId}/secret`] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/api/v1/admin/signing-keys/rotate'] ?? {})).toEqual(['post']);
  });
});

describe('gatehouse clients create', () => {
  const data = tempDir();
  afterAll(() => data.remove());

  const cli = (args: string[]): Promise<CliResult> =>
    runCli(args, {
      STORAGE: 'embedded',
      DATA_DIR: data.path,
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
    });

  it('registers confidential and public clients the server then accepts', { timeout: 90_000 }, async () => {
    const ws = await cli(['workspaces', 'create', '--name', 'Acme Corp', '--owner-email', 'ann@example.com']);
    expect(ws.code).toBe(0);
    const conf = await cli([
      'clients',
      'create',
      '--workspace',
      'acme-corp',
      '--name',
      'Acme Web',
      '--redirect-uri',
      'https://app.acme.test/callback',
      '--redirect-uri',
      'https://app.acme.test/callback2',
    ]);
    expect(conf.err).toBe('');
    expect(conf.code).toBe(0);
    const id = /^client_id: +(cli_\S+)$/m.exec(conf.out)?.[1];
    const secret = /^client_secret: (\S+)/m.exec(conf.out)?.[1];
    expect(id).toBeTruthy();
    expect(secret).toMatch(/^gcs_/);
    expect(conf.out).toMatch(/^type: +confidential$/m);

    const pub = await cli([
      'clients',
      'create',
      '--workspace',
      'acme-corp',
      '--name',
      'Acme CLI',
      '--redirect-uri',
      'http://127.0.0.1:8000/cb',
      '--public',
    ]);
    expect(pub.code).toBe(0);
    expect(pub.out).toMatch(/^type: +public$/m);
    expect(pub.out).not.toContain('client_secret');

    const bad = await cli([
      'clients',
      'create',
      '--workspace',
      'acme-corp',
      '--name',
      'x',
      '--redirect-uri',
      'http://evil.test/cb',
    ]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/https/);
    const noWs = await cli([
      'clients',
      'create',
      '--workspace',
      'nope',
      '--name',
      'x',
      '--redirect-uri',
      'https://a.test/cb',
    ]);
    expect(noWs.code).not.toBe(0);

    const list = await cli(['clients', 'list', '--workspace', 'acme-corp']);
    expect(list.out).toContain(id!);

    const gh = await startGatehouse({ kind: 'embedded', dataDir: data.path });
    try {
      const record = await gh.container.clients.find(id!);
      expect(record).toMatchObject({ name: 'Acme Web', type: 'confidential' });
      // The secret printed by the CLI authenticates the client at the provider.
      const intro = await form(
        `${gh.issuer}/token/introspection`,
        { token: 'unknown' },
        { id: id!, secret: secret! },
      );
      expect(intro).toEqual({ status: 200, json: { active: false } });
      const wrong = await form(
        `${gh.issuer}/token/introspection`,
        { token: 'unknown' },
        { id: id!, secret: `${secret}x` },
      );
      expect(wrong.status).toBe(401);
    } finally {
      await gh.close();
    }
  });
});
