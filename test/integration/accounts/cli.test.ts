import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CliResult, runCli } from '../../helpers/cli.ts';
import { mongoUriWithDb, startGatehouse, tempDir } from '../../helpers/server.ts';

const CHEAP = { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' };

type Store = { env: Record<string, string>; server: () => Parameters<typeof startGatehouse>[0] };

function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCli(args, { ...CHEAP, ...env });
}

const data = tempDir();
afterAll(() => data.remove());

describe.each<[string, () => Store]>([
  [
    'embedded',
    () => ({
      env: { STORAGE: 'embedded', DATA_DIR: data.path },
      server: () => ({ kind: 'embedded', dataDir: data.path }),
    }),
  ],
  [
    'mongo',
    () => {
      const uri = mongoUriWithDb(inject('mongoUri'));
      return { env: { MONGODB_URI: uri }, server: () => ({ kind: 'mongo', uri }) };
    },
  ],
])('the accounts CLI on the %s store', (_name, open) => {
  let store: Store;
  beforeAll(() => {
    store = open();
  });

  it('creates a workspace with a new owner, then users in it, usable by the server', {
    timeout: 90_000,
  }, async () => {
    const ws = await cli(
      ['workspaces', 'create', '--name', 'Acme Corp', '--owner-email', 'Ann@Example.com'],
      store.env,
    );
    expect(ws.err).toBe('');
    expect(ws.code).toBe(0);
    expect(ws.out).toMatch(
      /^created workspace "Acme Corp" \(slug acme-corp, id ws_[0-9a-f]{24}\) owned by Ann@Example.com$/m,
    );
    const annPassword = /with password: (\S+)$/m.exec(ws.out)?.[1];
    expect(annPassword).toMatch(/^[A-Za-z2-9]{24}$/);

    const bob = await cli(
      [
        'users',
        'create',
        '--email',
        'bob@example.com',
        '--generate-password',
        '--workspace',
        'acme-corp',
        '--role',
        'admin',
      ],
      store.env,
    );
    expect(bob.code).toBe(0);
    expect(bob.out).toMatch(/^created user bob@example.com \(usr_[0-9a-f]{24}\)$/m);
    expect(bob.out).toContain('added to workspace acme-corp as admin');
    const bobPassword = /^password: (\S+)$/m.exec(bob.out)?.[1];

    const carol = await cli(
      ['users', 'create', '--email', 'carol@example.com', '--password', 'carols password'],
      store.env,
    );
    expect(carol.code).toBe(0);
    expect(carol.out).not.toContain('password:');

    const list = await cli(['workspaces', 'list'], store.env);
    expect(list.out).toMatch(/^ws_[0-9a-f]{24} {2}acme-corp {2}Acme Corp$/m);

    const server = await startGatehouse(store.server(), CHEAP);
    try {
      const c = server.container;
      const ann = await c.accounts.authenticate('ann@example.com', annPassword!);
      const b = await c.accounts.authenticate('bob@example.com', bobPassword!);
      expect(await c.accounts.authenticate('carol@example.com', 'carols password')).not.toBeNull();
      const acme = (await c.workspaces.getBySlug('acme-corp'))!;
      expect(await c.workspaces.membership(acme.id, ann!.id)).toMatchObject({ role: 'owner' });
      expect(await c.workspaces.membership(acme.id, b!.id)).toMatchObject({ role: 'admin' });
    } finally {
      await server.close();
    }
  });

  it('sets a password, disables and enables a user', { timeout: 60_000 }, async () => {
    const set = await cli(
      ['users', 'set-password', '--email', 'carol@EXAMPLE.com', '--generate-password'],
      store.env,
    );
    expect(set.code).toBe(0);
    const password = /^password set for carol@example.com: (\S+)$/m.exec(set.out)?.[1];
    expect(password).toMatch(/^[A-Za-z2-9]{24}$/);

    const disable = await cli(['users', 'disable', '--email', 'Carol@example.com'], store.env);
    expect(disable.code).toBe(0);
    expect(disable.out).toMatch(/^disabled carol@example.com$/m);
    const server = await startGatehouse(store.server(), CHEAP);
    try {
      expect(await server.container.accounts.authenticate('carol@example.com', password!)).toBeNull();
    } finally {
      await server.close();
    }
    const enable = await cli(['users', 'enable', '--email', 'carol@example.com'], store.env);
    expect(enable.code).toBe(0);
    expect(enable.out).toMatch(/^enabled carol@example.com$/m);
  });
});

describe('the accounts CLI on bad input', () => {
  const dir = tempDir();
  const env = { STORAGE: 'embedded', DATA_DIR: dir.path };
  afterAll(() => dir.remove());

  it('says what is wrong and exits non-zero', async () => {
    const setup = await cli(
      ['workspaces', 'create', '--name', 'Acme Corp', '--owner-email', 'bob@example.com'],
      env,
    );
    expect(setup.code).toBe(0);
    // One store per process: these run one after another.
    const dup = await cli(['users', 'create', '--email', 'BOB@example.com'], env);
    expect(dup).toMatchObject({
      code: 1,
      err: 'gatehouse: An account with this email address already exists.\n',
    });
    const badEmail = await cli(['users', 'create', '--email', 'bob'], env);
    expect(badEmail).toMatchObject({ code: 1, err: 'gatehouse: email: expected an email address\n' });
    const weak = await cli(['users', 'create', '--email', 'dan@example.com', '--password', 'short'], env);
    expect(weak).toMatchObject({ code: 1, err: 'gatehouse: password: must be at least 8 characters\n' });
    const both = await cli(
      ['users', 'create', '--email', 'dan@example.com', '--password', 'long enough', '--generate-password'],
      env,
    );
    expect(both).toMatchObject({
      code: 1,
      err: 'gatehouse: give either --password or --generate-password, not both\n',
    });
    const noWs = await cli(['users', 'create', '--email', 'dan@example.com', '--workspace', 'nope'], env);
    expect(noWs).toMatchObject({ code: 1, err: 'gatehouse: no workspace "nope"\n' });
    const badRole = await cli(['users', 'create', '--email', 'dan@example.com', '--role', 'boss'], env);
    expect(badRole.code).toBe(1);
    expect(badRole.err).toMatch(
      /--role <role>' argument 'boss' is invalid. expected one of owner, admin, member/,
    );
    const slug = await cli(
      ['workspaces', 'create', '--name', 'X', '--slug', 'acme-corp', '--owner-email', 'bob@example.com'],
      env,
    );
    expect(slug).toMatchObject({ code: 1, err: 'gatehouse: The workspace slug "acme-corp" is taken.\n' });
    const unknown = await cli(
      ['users', 'set-password', '--email', 'nobody@example.com', '--password', 'long enough'],
      env,
    );
    expect(unknown).toMatchObject({ code: 1, err: 'gatehouse: no user with email nobody@example.com\n' });
  }, 120_000); // nine processes, one after another
});
