/**
 * The scopes catalogue and presets over HTTP, on both stores: risk labels and what each scope
 * and preset unlocks, custom scopes, edits, retirement (no longer grantable; holders keep it),
 * workspace presets, and who may change them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyWorld, keyWorld, stores } from './fixtures.ts';

describe.each(stores)('scopes and presets over HTTP on the %s store', (_name, store) => {
  let w: KeyWorld;
  beforeAll(async () => {
    w = await keyWorld(store());
  });
  afterAll(() => w?.server.close());

  it('lists more than 35 scopes, reads apart from writes, each with a description, risk and what it unlocks', async () => {
    const r = await w.call('GET', '/api/v1/scopes', w.a.admin);
    expect(r.status).toBe(200);
    const scopes = r.body.scopes as { name: string; risk: string; description: string; unlocks: string[] }[];
    expect(scopes.length).toBeGreaterThan(35);
    for (const s of scopes) {
      expect(['low', 'medium', 'high']).toContain(s.risk);
      expect(s.description.length).toBeGreaterThan(0);
      expect(s.name).not.toContain('*');
    }
    const names = new Set(scopes.map((s) => s.name));
    expect(names.has('videos:read') && names.has('videos:write')).toBe(true);
    expect(scopes.find((s) => s.name === 'api_keys:manage')!.risk).toBe('high');
    expect(scopes.find((s) => s.name === 'videos:read')!.unlocks.length).toBeGreaterThan(0);
  });

  it('lists the built-in presets with their risk and what they unlock', async () => {
    const r = await w.call('GET', '/api/v1/presets', w.a.admin);
    const by = Object.fromEntries(r.body.presets.map((p: { name: string }) => [p.name, p]));
    expect(by['read-only']).toMatchObject({
      risk: 'low',
      source: 'builtin',
      scopes: ['videos:read', 'collections:read', 'members:read'],
    });
    expect(by['content-agent'].risk).toBe('medium');
    expect(by['full-access'].risk).toBe('high');
    expect(by['full-access'].scopes.length).toBeGreaterThan(35);
    expect(by['read-only'].unlocks.length).toBeGreaterThan(0);
  });

  it('adds, edits, retires and restores scopes; retired ones cannot be granted but holders keep them', async () => {
    const add = await w.call('POST', '/api/v1/scopes', w.a.admin, {
      name: 'reports:export',
      description: 'Export reports as CSV',
      risk: 'medium',
      unlocks: ['POST /reports/export'],
    });
    expect(add.status).toBe(201);
    expect(add.body).toMatchObject({ name: 'reports:export', source: 'custom', retired: false });
    expect(
      (
        await w.call('POST', '/api/v1/scopes', w.a.admin, {
          name: 'reports:export',
          description: 'x',
          risk: 'low',
        })
      ).status,
    ).toBe(409);
    expect(
      (
        await w.call('POST', '/api/v1/scopes', w.a.admin, {
          name: 'reports:*',
          description: 'x',
          risk: 'low',
        })
      ).status,
    ).toBe(400);
    const holder = await w.call('POST', '/api/v1/keys', w.a.admin, {
      name: 'exporter',
      scopes: ['reports:export'],
    });
    expect(holder.status).toBe(201);
    const edit = await w.call('PATCH', '/api/v1/scopes/reports:export', w.a.admin, { risk: 'high' });
    expect(edit.body.risk).toBe('high');
    const retire = await w.call('POST', '/api/v1/scopes/reports:export/retire', w.a.admin);
    expect(retire.body.retired).toBe(true);
    const refused = await w.call('POST', '/api/v1/keys', w.a.admin, {
      name: 'late',
      scopes: ['reports:export'],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('retired_scopes');
    const v = await w.call('POST', '/api/v1/keys/verify', undefined, {
      key: holder.body.secret,
      required_scopes: ['reports:export'],
    });
    expect(v.body.valid).toBe(true);
    expect(
      (await w.call('GET', '/api/v1/scopes', w.a.admin)).body.scopes.some(
        (s: { name: string }) => s.name === 'reports:export',
      ),
    ).toBe(false);
    expect(
      (await w.call('GET', '/api/v1/scopes?include_retired=true', w.a.admin)).body.scopes.some(
        (s: { name: string }) => s.name === 'reports:export',
      ),
    ).toBe(true);
    expect((await w.call('POST', '/api/v1/scopes/reports:export/restore', w.a.admin)).body.retired).toBe(
      false,
    );
    expect((await w.call('PATCH', '/api/v1/scopes/nope:nope', w.a.admin, { risk: 'low' })).status).toBe(404);
    // Workspace B's catalogue is untouched.
    expect(
      (await w.call('GET', '/api/v1/scopes?include_retired=true', w.b.admin)).body.scopes.some(
        (s: { name: string }) => s.name === 'reports:export',
      ),
    ).toBe(false);
  });

  it('manages workspace presets; keys without settings:write may not', async () => {
    const p = await w.call('POST', '/api/v1/presets', w.a.admin, {
      name: 'admin',
      description: 'library admin',
      scopes: ['library:read', 'library:manage', 'library:upload'],
    });
    expect(p.status).toBe(201);
    expect(p.body).toMatchObject({ name: 'admin', source: 'custom', risk: 'medium' });
    expect(
      (await w.call('POST', '/api/v1/presets', w.a.admin, { name: 'read-only', scopes: ['videos:read'] }))
        .status,
    ).toBe(409);
    expect(
      (await w.call('POST', '/api/v1/presets', w.a.admin, { name: 'bad', scopes: ['nope:read'] })).status,
    ).toBe(400);
    const patched = await w.call('PATCH', '/api/v1/presets/admin', w.a.admin, { scopes: ['library:read'] });
    expect(patched.body.scopes).toEqual(['library:read']);
    const k = await w.key({ name: 'reader', scopes: ['api_keys:read'] });
    expect((await w.call('GET', '/api/v1/presets', k.secret)).status).toBe(200);
    const denied = await w.call('POST', '/api/v1/presets', k.secret, {
      name: 'mine',
      scopes: ['videos:read'],
    });
    expect(denied.status).toBe(403);
    expect(denied.body.required_scopes).toEqual(['settings:write']);
    expect((await w.call('DELETE', '/api/v1/presets/admin', w.a.admin)).status).toBe(204);
    expect((await w.call('DELETE', '/api/v1/presets/admin', w.a.admin)).status).toBe(404);
  });
});
