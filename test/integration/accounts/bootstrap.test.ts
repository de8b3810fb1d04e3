import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { bootstrap } from '../../../src/accounts/bootstrap.ts';
import {
  freePort,
  mongoUriWithDb,
  type StoreChoice,
  startGatehouse,
  type TestServer,
  tempDir,
} from '../../helpers/server.ts';

const CHEAP = { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' };

const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

describe.each(stores)('bootstrap on the %s store', (_name, store) => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('creates workspace "default" and its owner with a generated password, once', async () => {
    server = await startGatehouse(store(), CHEAP);
    const c = server.container;
    const first = await bootstrap(c);
    expect(first).toMatchObject({
      workspace: { name: 'Default', slug: 'default' },
      owner: { email: 'admin@localhost' },
    });
    expect(first!.generatedPassword).toMatch(/^[A-Za-z2-9]{24}$/);
    expect(first!.owner.passwordHash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/); // PASSWORD_HASH_* apply
    expect((await c.accounts.authenticate('admin@localhost', first!.generatedPassword!))?.id).toBe(
      first!.owner.id,
    );
    expect(await c.workspaces.membership(first!.workspace.id, first!.owner.id)).toMatchObject({
      role: 'owner',
    });
    expect(await bootstrap(c)).toBeNull();
    expect(await c.workspaces.count()).toBe(1);
  });

  it('uses BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD, printing no password', async () => {
    server = await startGatehouse(store(), {
      ...CHEAP,
      BOOTSTRAP_ADMIN_EMAIL: 'Root@Example.com',
      BOOTSTRAP_ADMIN_PASSWORD: 'a long admin password',
    });
    const b = await bootstrap(server.container);
    expect(b).toMatchObject({ owner: { email: 'Root@Example.com' }, existingUser: false });
    expect(b!.generatedPassword).toBeUndefined();
    expect(
      await server.container.accounts.authenticate('root@example.com', 'a long admin password'),
    ).not.toBeNull();
  });

  it('does nothing when a workspace exists', async () => {
    server = await startGatehouse(store(), CHEAP);
    const c = server.container;
    const u = await c.accounts.createUser({ email: 'ann@example.com' });
    await c.workspaces.create({ name: 'Acme' }, u.id);
    expect(await bootstrap(c)).toBeNull();
    expect(await c.accounts.findByEmail('admin@localhost')).toBeNull();
  });

  it('creates one workspace when two starts race, and the generated password is still shown', async () => {
    server = await startGatehouse(store(), CHEAP);
    const c = server.container;
    const results = await Promise.all([bootstrap(c), bootstrap(c), bootstrap(c)]);
    expect(await c.workspaces.count()).toBe(1);
    const shown = results.filter((r) => r?.generatedPassword);
    expect(shown).toHaveLength(1);
    expect(await c.accounts.authenticate('admin@localhost', shown[0]!.generatedPassword!)).not.toBeNull();
  });
});

describe('bootstrap of `npm start` on a fresh data directory', () => {
  const children: ChildProcess[] = [];
  const data = tempDir();
  let port: number;
  beforeAll(async () => {
    port = await freePort();
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(() => data.remove());

  async function start(env: Record<string, string> = {}): Promise<{ out: string; child: ChildProcess }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        GATEHOUSE_CONFIG_DIR: '/nonexistent',
        PORT: String(port),
        DATA_DIR: data.path,
        LOG_LEVEL: 'info',
        ...CHEAP,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
    });
    const until = Date.now() + 20_000;
    // The banner is one write: once it starts, all of it is there.
    while (!out.includes('Gatehouse listening')) {
      if (Date.now() > until) throw new Error(`no banner: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 200)); // the pino lines of the same moment
    return { out, child };
  }

  it('prints the generated password once on stdout with how to sign in, never in a log line', async () => {
    const first = await start();
    const password = /password: {2}([A-Za-z2-9]{24})\n/.exec(first.out)?.[1];
    expect(password, first.out).toBeDefined();
    expect(first.out).toContain(
      'bootstrap: created workspace "Default" (slug default) owned by admin@localhost',
    );
    expect(first.out).toContain(
      `sign in:   curl -X POST http://localhost:${port}/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"admin@localhost","password":"${password}"}'`,
    );
    const logLines = first.out.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.some((l) => l.includes('bootstrap: created the first workspace'))).toBe(true);
    expect(logLines.filter((l) => l.includes(password!))).toEqual([]);

    // What the banner says works: sign in through the login API, as the owner of "default".
    const signIn = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@localhost', password }),
    });
    expect(signIn.status).toBe(200);
    const tokens = (await signIn.json()) as { access_token: string; token_type: string };
    expect(tokens.token_type).toBe('Bearer');
    const me = await fetch(`http://127.0.0.1:${port}/api/v1/me`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(await me.json()).toMatchObject({
      user: { email: 'admin@localhost' },
      memberships: [{ slug: 'default', name: 'Default', role: 'owner' }],
    });
    first.child.kill('SIGTERM');
    await new Promise((r) => first.child.once('exit', r));

    const second = await start();
    expect(second.out).not.toContain('bootstrap:');
    expect(second.out).not.toContain(password);
  });

  it('uses BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD and prints no password', async () => {
    const dir = tempDir();
    try {
      const secret = 'the operators own password';
      const run = await start({
        DATA_DIR: dir.path,
        BOOTSTRAP_ADMIN_EMAIL: 'Ops@Example.com',
        BOOTSTRAP_ADMIN_PASSWORD: secret,
      });
      expect(run.out).toContain(
        'bootstrap: created workspace "Default" (slug default) owned by Ops@Example.com',
      );
      expect(run.out).toContain('password:  BOOTSTRAP_ADMIN_PASSWORD');
      expect(run.out).not.toContain(secret);
      const signIn = await fetch(`http://127.0.0.1:${port}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ops@example.com', password: secret }),
      });
      expect(signIn.status).toBe(200);
      run.child.kill('SIGTERM');
      await new Promise((r) => run.child.once('exit', r));
    } finally {
      dir.remove();
    }
  });
});
