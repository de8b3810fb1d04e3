/**
 * Who may do what with keys, over HTTP against a real server on both stores: the three ways of
 * presenting a key (Bearer, X-API-Key, the workspace's own header), escalation attempts, keys of
 * one workspace useless in another, the seed's admin/readonly/upload roles, and workspace
 * owners/admins/members with access tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyWorld, keyWorld, stores } from './fixtures.ts';

describe.each(stores)('who may manage and use keys, on the %s store', (_name, store) => {
  let w: KeyWorld;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    w = await keyWorld(store());
    const c = w.c;
    // Workspace A's users: owner ann, admin dave, member bob. Carol owns only workspace B.
    for (const [name, ws, role] of [
      ['ann', w.a.id, 'owner'],
      ['dave', w.a.id, 'admin'],
      ['bob', w.a.id, 'member'],
      ['carol', w.b.id, 'owner'],
    ] as const) {
      const user = await c.accounts.createUser({
        email: `${name}@example.com`,
        password: `${name} password!`,
      });
      await c.workspaces.addMember(ws, user.id, role);
      tokens[name] = (await c.tokens.issueForUser({ userId: user.id, workspaceId: ws })).access_token;
    }
  });
  afterAll(() => w?.server.close());

  describe('presenting a key', () => {
    it('accepts Authorization: Bearer, X-API-Key, and the workspace header (X-SPATIALGEN-APPKEY)', async () => {
      const k = await w.key({ name: 'reader', scopes: ['api_keys:read'] });
      expect((await w.call('GET', '/api/v1/keys', k.secret)).status).toBe(200);
      expect((await w.call('GET', '/api/v1/keys', { header: 'x-api-key', value: k.secret })).status).toBe(
        200,
      );
      // Not yet the workspace's header: refused.
      const before = await w.call('GET', '/api/v1/keys', { header: 'x-spatialgen-appkey', value: k.secret });
      expect(before.status).toBe(401);
      await w.c.workspaces.update(w.a.id, { settings: { api_key_header: 'X-SPATIALGEN-APPKEY' } });
      const custom = await w.call('GET', '/api/v1/keys', { header: 'X-SPATIALGEN-APPKEY', value: k.secret });
      expect(custom.status).toBe(200);
      // Workspace B's keys are not accepted in A's header.
      const other = await w.call('GET', '/api/v1/keys', { header: 'x-spatialgen-appkey', value: w.b.admin });
      expect(other.status).toBe(401);
      expect(other.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    it('answers 401 with WWW-Authenticate and a JSON error for a missing, unknown or malformed key', async () => {
      const none = await w.call('GET', '/api/v1/keys');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="gatehouse"/);
      expect(none.body).toMatchObject({ error: 'unauthorized', message: expect.any(String) });
      const forged = `${w.a.admin.slice(0, -8)}AAAAAAAA`;
      for (const cred of [forged, { header: 'x-api-key', value: 'sk_live_nope' }]) {
        const r = await w.call('GET', '/api/v1/keys', cred);
        expect(r.status).toBe(401);
        expect(r.body.error).toBe('key_invalid');
        expect(r.headers.get('www-authenticate')).toMatch(/invalid_token/);
      }
    });

    it('refuses two credentials at once', async () => {
      const res = await fetch(`${w.server.url}/api/v1/keys`, {
        headers: { authorization: `Bearer ${w.a.admin}`, 'x-api-key': w.a.admin },
      });
      expect(res.status).toBe(400);
    });
  });

  describe('escalation', () => {
    it('a key with api_keys:manage cannot grant scopes it does not hold, nor grant-all', async () => {
      const mgr = await w.key({ name: 'manager', scopes: ['api_keys:manage', 'videos:read'] });
      const ok = await w.call('POST', '/api/v1/keys', mgr.secret, { name: 'sub', scopes: ['videos:read'] });
      expect(ok.status).toBe(201);
      const more = await w.call('POST', '/api/v1/keys', mgr.secret, {
        name: 'sub',
        scopes: ['videos:read', 'videos:write'],
      });
      expect(more.status).toBe(403);
      expect(more.body).toMatchObject({ error: 'scope_escalation', missing_scopes: ['videos:write'] });
      const all = await w.call('POST', '/api/v1/keys', mgr.secret, { name: 'sub', grant_all: true });
      expect(all.status).toBe(403);
      const preset = await w.call('POST', '/api/v1/keys', mgr.secret, { name: 'sub', preset: 'full-access' });
      expect(preset.status).toBe(403);
      // Editing another key up, or itself up, is the same escalation.
      const up = await w.call('PATCH', `/api/v1/keys/${ok.body.id}`, mgr.secret, {
        scopes: ['videos:read', 'emails:send'],
      });
      expect(up.status).toBe(403);
      const self = await w.call('PATCH', `/api/v1/keys/${mgr.id}`, mgr.secret, { grant_all: true });
      expect(self.status).toBe(403);
      // Rotating a key with more power than the caller is refused too.
      const strong = await w.key({ name: 'strong', scopes: ['emails:send'] });
      expect((await w.call('POST', `/api/v1/keys/${strong.id}/rotate`, mgr.secret)).status).toBe(403);
      // The refusals are in the audit trail.
      const audit = await w.call('GET', '/api/v1/audit?action=key.created', w.a.admin);
      expect(
        audit.body.data.some(
          (e: { outcome: string; reason: string }) =>
            e.outcome === 'failure' && e.reason === 'scope_escalation',
        ),
      ).toBe(true);
    });

    it('a key without api_keys:manage cannot create, edit, revoke or rotate', async () => {
      const reader = await w.key({ name: 'readonly', scopes: ['api_keys:read', 'videos:read'] });
      const target = await w.key({ name: 'target', scopes: ['videos:read'] });
      for (const [method, path, body] of [
        ['POST', '/api/v1/keys', { name: 'x', scopes: ['videos:read'] }],
        ['PATCH', `/api/v1/keys/${target.id}`, { name: 'x' }],
        ['POST', `/api/v1/keys/${target.id}/revoke`, undefined],
        ['POST', `/api/v1/keys/${target.id}/rotate`, {}],
      ] as const) {
        const r = await w.call(method, path, reader.secret, body);
        expect(r.status, `${method} ${path}`).toBe(403);
        expect(r.body).toMatchObject({ error: 'insufficient_scope', required_scopes: ['api_keys:manage'] });
      }
      expect((await w.call('GET', `/api/v1/keys/${target.id}`, w.a.admin)).body.status).toBe('active');
    });
  });

  describe('the seed roles: admin, readonly, upload', () => {
    it('readonly keys list metadata only with api_keys:read; upload-only keys read nothing', async () => {
      await w.call('POST', '/api/v1/presets', w.a.admin, {
        name: 'readonly',
        description: 'list videos and streams, request downloads',
        scopes: ['videos:read', 'streams:read', 'downloads:request'],
      });
      await w.call('POST', '/api/v1/presets', w.a.admin, {
        name: 'upload',
        description: 'upload only',
        scopes: ['library:upload'],
      });
      const ro = await w.call('POST', '/api/v1/keys', w.a.admin, {
        name: 'vision pro app',
        preset: 'readonly',
      });
      const up = await w.call('POST', '/api/v1/keys', w.a.admin, { name: 'uploader', preset: 'upload' });
      expect(ro.status).toBe(201);
      expect(up.body.scopes).toEqual(['library:upload']);
      for (const path of [
        '/api/v1/keys',
        '/api/v1/scopes',
        '/api/v1/credits',
        '/api/v1/audit',
        '/api/v1/webhook',
      ]) {
        expect((await w.call('GET', path, up.body.secret)).status, path).toBe(403);
        expect((await w.call('GET', path, ro.body.secret)).status, path).toBe(403);
      }
      const roLister = await w.call('POST', '/api/v1/keys', w.a.admin, {
        name: 'readonly + key metadata',
        scopes: ['videos:read', 'api_keys:read'],
      });
      const listed = await w.call('GET', '/api/v1/keys', roLister.body.secret);
      expect(listed.status).toBe(200);
      expect(listed.body.data.every((k: Record<string, unknown>) => k.secret === undefined)).toBe(true);
    });
  });

  describe('workspaces do not cross', () => {
    it("a key of workspace A is useless in workspace B, and B's keys are not found from A", async () => {
      const bKey = await w.key({ name: 'b key', scopes: ['videos:read'] }, w.b.id);
      expect((await w.call('GET', `/api/v1/keys/${bKey.id}`, w.a.admin)).status).toBe(404);
      expect((await w.call('PATCH', `/api/v1/keys/${bKey.id}`, w.a.admin, { name: 'pwned' })).status).toBe(
        404,
      );
      expect((await w.call('POST', `/api/v1/keys/${bKey.id}/revoke`, w.a.admin)).status).toBe(404);
      expect((await w.call('POST', `/api/v1/keys/${bKey.id}/rotate`, w.a.admin)).status).toBe(404);
      expect((await w.call('GET', `/api/v1/keys/${bKey.id}/webhook`, w.a.admin)).status).toBe(404);
      const explicit = await w.call('GET', `/api/v1/keys?workspace_id=${w.b.id}`, w.a.admin);
      expect(explicit.status).toBe(404);
      expect(explicit.body).toEqual({ error: 'not_found', message: 'No such workspace.' });
      expect((await w.call('GET', `/api/v1/keys?workspace_id=ws_doesnotexist`, w.a.admin)).status).toBe(404);
      const listA = await w.call('GET', '/api/v1/keys?limit=100', w.a.admin);
      expect(listA.body.data.every((k: { workspace_id: string }) => k.workspace_id === w.a.id)).toBe(true);
      expect((await w.call('GET', `/api/v1/keys/${bKey.id}`, w.b.admin)).status).toBe(200);
      // Verification pinned to nothing still reports the key's own workspace only.
      const v = await w.call('POST', '/api/v1/keys/verify', undefined, { key: bKey.secret });
      expect(v.body).toMatchObject({ valid: true, workspace_id: w.b.id });
    });
  });

  describe('users with access tokens', () => {
    it('owners and admins manage keys (holding every scope); members may not; other workspaces are 404', async () => {
      for (const who of ['ann', 'dave']) {
        const r = await w.call('POST', '/api/v1/keys', tokens[who], {
          name: `${who}'s key`,
          scopes: ['emails:send'],
        });
        expect(r.status, who).toBe(201);
        expect(r.body.workspace_id).toBe(w.a.id);
        const all = await w.call('POST', '/api/v1/keys', tokens[who], {
          name: `${who}'s all`,
          grant_all: true,
        });
        expect(all.status, who).toBe(201);
        expect((await w.call('GET', '/api/v1/keys', tokens[who])).status).toBe(200);
      }
      const member = await w.call('POST', '/api/v1/keys', tokens.bob, {
        name: 'bob',
        scopes: ['videos:read'],
      });
      expect(member.status).toBe(403);
      expect((await w.call('GET', '/api/v1/keys', tokens.bob)).status).toBe(403);
      // Members read the catalogue and the balance.
      expect((await w.call('GET', '/api/v1/scopes', tokens.bob)).status).toBe(200);
      expect((await w.call('GET', '/api/v1/credits', tokens.bob)).status).toBe(200);
      // Carol owns B only: A is not found for her, whatever she names.
      expect((await w.call('GET', `/api/v1/keys?workspace_id=${w.a.id}`, tokens.carol)).status).toBe(404);
      const mine = await w.call('GET', '/api/v1/keys', tokens.carol);
      expect(mine.status).toBe(200);
      expect(mine.body.data.every((k: { workspace_id: string }) => k.workspace_id === w.b.id)).toBe(true);
    });

    it('records who did it in the audit trail', async () => {
      const r = await w.call('POST', '/api/v1/keys', tokens.dave, { name: 'audited', scopes: ['tags:read'] });
      await w.c.audit.flush();
      const trail = await w.call('GET', '/api/v1/audit?action=key.created&actor_kind=user', tokens.ann);
      expect(trail.status).toBe(200);
      const entry = trail.body.data.find((e: { target: { id: string } }) => e.target?.id === r.body.id);
      expect(entry).toMatchObject({ actor: { kind: 'user' }, outcome: 'success', ip: '127.0.0.1' });
    });
  });
});
