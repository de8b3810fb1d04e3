import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { User } from '../../../src/accounts/model.ts';
import type { Workspace } from '../../../src/workspaces/model.ts';
import { mongoUriWithDb, type StoreChoice, startGatehouse, type TestServer } from '../../helpers/server.ts';

const CHEAP = { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' };

const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, checked by the assertions
  body: any;
  headers: Headers;
}

describe.each(stores)('the workspaces management API on the %s store', (_name, store) => {
  let server: TestServer;
  let acme: Workspace; // ann owner, dave admin, bob member
  let globex: Workspace; // carol owner, gus member; erin belongs nowhere (and has no token)
  const users: Record<string, User> = {};
  const tokens: Record<string, string> = {};

  async function call(
    method: string,
    path: string,
    who?: string,
    body?: unknown,
    raw?: string,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (who) headers.authorization = who.startsWith('Bearer ') ? who : `Bearer ${tokens[who]}`;
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  beforeAll(async () => {
    server = await startGatehouse(store(), CHEAP);
    const c = server.container;
    for (const name of ['ann', 'bob', 'carol', 'dave', 'erin', 'gus']) {
      users[name] = await c.accounts.createUser({
        email: `${name}@example.com`,
        password: `${name} password`,
      });
    }
    acme = await c.workspaces.create({ name: 'Acme' }, users.ann!.id);
    globex = await c.workspaces.create({ name: 'Globex' }, users.carol!.id);
    await c.workspaces.addMember(acme.id, users.dave!.id, 'admin');
    await c.workspaces.addMember(acme.id, users.bob!.id, 'member');
    await c.workspaces.addMember(globex.id, users.gus!.id, 'member');
    for (const [name, ws] of [
      ['ann', acme],
      ['bob', acme],
      ['dave', acme],
      ['carol', globex],
      ['gus', globex],
    ] as const) {
      tokens[name] = (
        await c.tokens.issueForUser({ userId: users[name]!.id, workspaceId: ws.id })
      ).access_token;
    }
  });

  afterAll(async () => {
    await server?.close();
  });

  describe('authentication', () => {
    it('answers 401 with WWW-Authenticate without a token, and for a forged one', async () => {
      const none = await call('GET', '/api/v1/workspaces');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(none.body).toMatchObject({ error: 'unauthorized' });
      const forged = await call(
        'GET',
        '/api/v1/workspaces',
        'Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      );
      expect(forged.status).toBe(401);
      expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(forged.body.error).toMatch(/^invalid_token|token_/);
    });
  });

  describe('workspaces', () => {
    it('lets any signed-in user create a workspace and own it', async () => {
      const created = await call('POST', '/api/v1/workspaces', 'bob', {
        name: "Bob's Lab",
        settings: { access_token_ttl: 900, api_key_header: 'X-Lab-Key' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name: "Bob's Lab",
        slug: 'bob-s-lab',
        role: 'owner',
        settings: {
          access_token_ttl: 900,
          refresh_token_ttl: 30 * 86_400,
          sign_in_methods: ['password'],
          key_prefix: 'sk',
          api_key_header: 'X-Lab-Key',
        },
      });
      expect(created.body.id).toMatch(/^ws_/);
      expect(created.headers.get('location')).toBe(`/api/v1/workspaces/${created.body.id}`);
      const mine = await call('GET', '/api/v1/workspaces', 'bob');
      expect(mine.body.workspaces.map((w: { slug: string; role: string }) => [w.slug, w.role])).toEqual([
        ['acme', 'member'],
        ['bob-s-lab', 'owner'],
      ]);
    });

    it('uses the defaults: 4 h access tokens', async () => {
      const created = await call('POST', '/api/v1/workspaces', 'dave', { name: 'Dave Co', slug: 'dave-co' });
      expect(created.status).toBe(201);
      expect(created.body.settings).toMatchObject({ access_token_ttl: 14_400, api_key_header: null });
    });

    it('refuses bad input with a 400 naming the field, never a 500', async () => {
      const cases: [unknown, string][] = [
        [{}, 'name'],
        [{ name: '' }, 'name'],
        [{ name: 'x'.repeat(101) }, 'name'],
        [{ name: 'Ok', slug: 'Not A Slug' }, 'slug'],
        [{ name: 'Ok', settings: { access_token_ttl: 'long' } }, 'settings.access_token_ttl'],
        [{ name: 'Ok', settings: { access_token_ttl: 10 } }, 'settings.access_token_ttl'],
        [{ name: 'Ok', settings: { sign_in_methods: [] } }, 'settings.sign_in_methods'],
        [
          { name: 'Ok', settings: { sign_in_methods: ['password', 'carrier-pigeon'] } },
          'settings.sign_in_methods.1',
        ],
        [{ name: 'Ok', settings: { key_prefix: 'SK-' } }, 'settings.key_prefix'],
        [{ name: 'Ok', settings: { api_key_header: 'Authorization' } }, 'settings.api_key_header'],
        [
          { name: 'Ok', settings: { refresh_token_ttl: 600, access_token_ttl: 900 } },
          'settings.refresh_token_ttl',
        ],
      ];
      for (const [body, field] of cases) {
        const res = await call('POST', '/api/v1/workspaces', 'gus', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body, JSON.stringify(body)).toMatchObject({ error: 'invalid_request', field });
        expect(res.body.message).toMatch(new RegExp(`^${field.replace(/\./g, '\\.')}: `));
      }
      const unknown = await call('POST', '/api/v1/workspaces', 'gus', { name: 'Ok', owner: 'me' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.message).toMatch(/owner/);
      const notJson = await call('POST', '/api/v1/workspaces', 'gus', undefined, '{"name":');
      expect(notJson).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
      // Prototype poisoning and bare JSON values are refused before any schema sees them.
      for (const text of ['{"name":"Ok","__proto__":{"admin":true}}', '"Ok"', '42', ' ']) {
        const refused = await call('POST', '/api/v1/workspaces', 'gus', undefined, text);
        expect(refused, text).toMatchObject({ status: 400, body: { error: 'invalid_json' } });
      }
      const array = await call('POST', '/api/v1/workspaces', 'gus', [1, 2]);
      expect(array.status).toBe(400);
      const listed = (await call('GET', '/api/v1/workspaces', 'gus')).body.workspaces;
      expect(listed.map((w: { slug: string }) => w.slug)).toEqual(['globex']);
    });

    it('answers 409 slug_taken for a taken slug', async () => {
      const res = await call('POST', '/api/v1/workspaces', 'gus', { name: 'Another Acme', slug: 'acme' });
      expect(res).toMatchObject({ status: 409, body: { error: 'slug_taken', field: 'slug' } });
    });

    it('lets members read their workspace by id or slug', async () => {
      const byId = await call('GET', `/api/v1/workspaces/${acme.id}`, 'bob');
      expect(byId).toMatchObject({ status: 200, body: { id: acme.id, slug: 'acme', role: 'member' } });
      const bySlug = await call('GET', '/api/v1/workspaces/acme', 'dave');
      expect(bySlug).toMatchObject({ status: 200, body: { id: acme.id, role: 'admin' } });
    });

    it("answers 404 for someone else's workspace, exactly as for none at all", async () => {
      const other = await call('GET', `/api/v1/workspaces/${acme.id}`, 'carol');
      const none = await call('GET', '/api/v1/workspaces/ws_000000000000000000000000', 'carol');
      const bySlug = await call('GET', '/api/v1/workspaces/acme', 'carol');
      expect(other).toMatchObject({
        status: 404,
        body: { error: 'not_found', message: 'No such workspace.' },
      });
      expect(none.body).toEqual(other.body);
      expect(bySlug.body).toEqual(other.body);
      for (const [method, path, body] of [
        ['PATCH', `/api/v1/workspaces/${acme.id}`, { name: 'Pwned' }],
        ['GET', `/api/v1/workspaces/${acme.id}/members`, undefined],
        ['POST', `/api/v1/workspaces/${acme.id}/members`, { email: 'carol@example.com', role: 'owner' }],
        ['PATCH', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, { role: 'owner' }],
        ['DELETE', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, undefined],
      ] as const) {
        const res = await call(method, path, 'carol', body);
        expect(res.status, `${method} ${path}`).toBe(404);
        expect(res.body).toEqual(other.body);
      }
      expect((await server.container.workspaces.get(acme.id))!.name).toBe('Acme');
      expect(await server.container.workspaces.membership(acme.id, users.carol!.id)).toBeNull();
    });

    it('lets owners and admins change settings; members get 403', async () => {
      const member = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'bob', { name: 'Bob was here' });
      expect(member).toMatchObject({
        status: 403,
        body: { error: 'forbidden', required_roles: ['owner', 'admin'] },
      });
      const admin = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'dave', {
        settings: { access_token_ttl: 3600, sign_in_methods: ['password', 'google'] },
      });
      expect(admin).toMatchObject({
        status: 200,
        body: { name: 'Acme', settings: { access_token_ttl: 3600, sign_in_methods: ['password', 'google'] } },
      });
      const owner = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'ann', {
        name: 'Acme Inc',
        settings: { key_prefix: 'acme' },
      });
      expect(owner.body).toMatchObject({
        name: 'Acme Inc',
        slug: 'acme',
        settings: { access_token_ttl: 3600, key_prefix: 'acme' },
      });
      expect(
        owner.body.updated_at > owner.body.created_at || owner.body.updated_at === owner.body.created_at,
      ).toBe(true);
      const stored = (await server.container.workspaces.get(acme.id))!;
      expect(stored.settings).toMatchObject({
        accessTokenTtl: 3600,
        keyPrefix: 'acme',
        signInMethods: ['password', 'google'],
      });
    });

    it('validates patches: empty, unknown fields, lifetimes that do not fit, taken slugs', async () => {
      const empty = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'ann', {});
      expect(empty.status).toBe(400);
      const lifetimes = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'ann', {
        settings: { access_token_ttl: 86_400, refresh_token_ttl: 3600 },
      });
      expect(lifetimes).toMatchObject({ status: 400, body: { field: 'settings.refresh_token_ttl' } });
      const unknown = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'ann', {
        settings: { colour: 'red' },
      });
      expect(unknown.status).toBe(400);
      const taken = await call('PATCH', `/api/v1/workspaces/${acme.id}`, 'ann', { slug: 'globex' });
      expect(taken).toMatchObject({ status: 409, body: { error: 'slug_taken' } });
      expect((await server.container.workspaces.get(acme.id))!.slug).toBe('acme');
    });
  });

  describe('members', () => {
    it('lists members with their emails and roles to any member', async () => {
      const res = await call('GET', `/api/v1/workspaces/${acme.id}/members`, 'bob');
      expect(res.status).toBe(200);
      expect(res.body.members.map((m: { email: string; role: string }) => [m.email, m.role])).toEqual([
        ['ann@example.com', 'owner'],
        ['dave@example.com', 'admin'],
        ['bob@example.com', 'member'],
      ]);
      expect(res.body.members[0]).toEqual({
        user_id: users.ann!.id,
        email: 'ann@example.com',
        name: null,
        role: 'owner',
        created_at: expect.any(String),
      });
    });

    it('refuses members who try to manage with 403', async () => {
      const add = await call('POST', `/api/v1/workspaces/${acme.id}/members`, 'bob', {
        email: 'x@example.com',
      });
      expect(add).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      const promote = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, 'bob', {
        role: 'admin',
      });
      expect(promote.status).toBe(403);
      const remove = await call('DELETE', `/api/v1/workspaces/${acme.id}/members/${users.dave!.id}`, 'bob');
      expect(remove.status).toBe(403);
      expect(await server.container.accounts.findByEmail('x@example.com')).toBeNull();
    });

    it('creates an account for an unknown email, with the password given', async () => {
      const res = await call('POST', `/api/v1/workspaces/${acme.id}/members`, 'dave', {
        email: 'Frank@Example.com',
        name: 'Frank',
        password: 'franks password',
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        email: 'Frank@Example.com',
        name: 'Frank',
        role: 'member',
        user_created: true,
      });
      const frank = await server.container.accounts.authenticate('frank@example.com', 'franks password');
      expect(frank?.id).toBe(res.body.user_id);
      expect(res.headers.get('location')).toBe(`/api/v1/workspaces/${acme.id}/members/${frank!.id}`);
    });

    it('adds an existing account found case-insensitively, never touching its password', async () => {
      const res = await call('POST', `/api/v1/workspaces/${globex.id}/members`, 'carol', {
        email: 'ERIN@example.com',
        role: 'admin',
        password: 'an attempt to take over',
      });
      expect(res).toMatchObject({
        status: 201,
        body: { user_id: users.erin!.id, email: 'erin@example.com', role: 'admin', user_created: false },
      });
      expect(
        await server.container.accounts.authenticate('erin@example.com', 'an attempt to take over'),
      ).toBeNull();
      expect(
        await server.container.accounts.authenticate('erin@example.com', 'erin password'),
      ).not.toBeNull();
    });

    it('answers 409 for a member added twice, whatever the email case', async () => {
      const res = await call('POST', `/api/v1/workspaces/${acme.id}/members`, 'ann', {
        email: 'BOB@EXAMPLE.COM',
      });
      expect(res).toMatchObject({ status: 409, body: { error: 'already_member' } });
      expect(
        (await server.container.workspaces.members(acme.id)).filter((m) => m.userId === users.bob!.id),
      ).toHaveLength(1);
    });

    it('refuses bad member input with a 400 naming the field', async () => {
      for (const [body, field] of [
        [{}, 'email'],
        [{ email: 'not-an-email' }, 'email'],
        [{ email: 'g@example.com', role: 'boss' }, 'role'],
        [{ email: 'g@example.com', password: 'short' }, 'password'],
        [{ email: 'g@example.com', name: 42 }, 'name'],
      ] as const) {
        const res = await call('POST', `/api/v1/workspaces/${acme.id}/members`, 'ann', body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.field, JSON.stringify(body)).toBe(field);
      }
      const role = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, 'ann', {
        role: 'king',
      });
      expect(role).toMatchObject({ status: 400, body: { field: 'role' } });
      expect(await server.container.accounts.findByEmail('g@example.com')).toBeNull();
    });

    it('keeps the owner role to owners', async () => {
      const grant = await call('POST', `/api/v1/workspaces/${acme.id}/members`, 'dave', {
        email: 'h@example.com',
        role: 'owner',
      });
      expect(grant).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      expect(await server.container.accounts.findByEmail('h@example.com')).toBeNull();
      const promote = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, 'dave', {
        role: 'owner',
      });
      expect(promote.status).toBe(403);
      const demote = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.ann!.id}`, 'dave', {
        role: 'member',
      });
      expect(demote.status).toBe(403);
      const remove = await call('DELETE', `/api/v1/workspaces/${acme.id}/members/${users.ann!.id}`, 'dave');
      expect(remove.status).toBe(403);
      const adminPromotes = await call(
        'PATCH',
        `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`,
        'dave',
        { role: 'admin' },
      );
      expect(adminPromotes).toMatchObject({
        status: 200,
        body: { user_id: users.bob!.id, role: 'admin', email: 'bob@example.com' },
      });
      const back = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, 'dave', {
        role: 'member',
      });
      expect(back.body.role).toBe('member');
    });

    it('never demotes or removes the last owner', async () => {
      const demote = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.ann!.id}`, 'ann', {
        role: 'admin',
      });
      expect(demote).toMatchObject({ status: 409, body: { error: 'last_owner' } });
      const leave = await call('DELETE', `/api/v1/workspaces/${acme.id}/members/${users.ann!.id}`, 'ann');
      expect(leave).toMatchObject({ status: 409, body: { error: 'last_owner' } });
      // With a second owner, the first may step down.
      const promote = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.dave!.id}`, 'ann', {
        role: 'owner',
      });
      expect(promote.body.role).toBe('owner');
      const stepDown = await call('PATCH', `/api/v1/workspaces/${acme.id}/members/${users.ann!.id}`, 'ann', {
        role: 'admin',
      });
      expect(stepDown).toMatchObject({ status: 200, body: { role: 'admin' } });
      const daveAlone = await call(
        'DELETE',
        `/api/v1/workspaces/${acme.id}/members/${users.dave!.id}`,
        'dave',
      );
      expect(daveAlone).toMatchObject({ status: 409, body: { error: 'last_owner' } });
      const owners = (await server.container.workspaces.members(acme.id)).filter((m) => m.role === 'owner');
      expect(owners.map((m) => m.userId)).toEqual([users.dave!.id]);
    });

    it('lets admins remove members, anyone leave, and answers 404 for non-members', async () => {
      const frank = (await server.container.accounts.findByEmail('frank@example.com'))!;
      const removed = await call('DELETE', `/api/v1/workspaces/${acme.id}/members/${frank.id}`, 'ann');
      expect(removed.status).toBe(204);
      expect(await server.container.workspaces.membership(acme.id, frank.id)).toBeNull();
      const again = await call('DELETE', `/api/v1/workspaces/${acme.id}/members/${frank.id}`, 'ann');
      expect(again).toMatchObject({ status: 404, body: { error: 'not_found', message: 'No such member.' } });
      const stranger = await call(
        'PATCH',
        `/api/v1/workspaces/${acme.id}/members/${users.carol!.id}`,
        'ann',
        { role: 'admin' },
      );
      expect(stranger.status).toBe(404);
      const bobLeaves = await call('DELETE', `/api/v1/workspaces/${acme.id}/members/${users.bob!.id}`, 'bob');
      expect(bobLeaves.status).toBe(204);
      // Leaving ends the tokens bob had for this workspace at once.
      const after = await call('GET', `/api/v1/workspaces/${acme.id}`, 'bob');
      expect(after.status).toBe(401);
    });
  });

  it('documents every operation in the OpenAPI document', async () => {
    const doc = await call('GET', '/api/v1/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/workspaces',
        '/api/v1/workspaces/{id}',
        '/api/v1/workspaces/{id}/members',
        '/api/v1/workspaces/{id}/members/{userId}',
      ]),
    );
    expect(Object.keys(doc.body.paths['/api/v1/workspaces/{id}/members/{userId}'])).toEqual([
      'patch',
      'delete',
    ]);
    expect(
      doc.body.paths['/api/v1/workspaces'].post.requestBody.content['application/json'].schema.required,
    ).toEqual(['name']);
  });
});
