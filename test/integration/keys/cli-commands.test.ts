import { Command, CommanderError } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKey } from '../../../src/api-keys/format.ts';
import { ApiKeyService } from '../../../src/api-keys/service.ts';
import { checkKeyOffline, type KeysContainer, registerKeyCommands } from '../../../src/cli/keys.ts';
import { systemClock } from '../../../src/storage/port.ts';
import { WorkspaceService } from '../../../src/workspaces/service.ts';
import { openEmbedded } from '../../helpers/stores.ts';

describe('gatehouse keys', () => {
  let lines: string[];
  let stdin: string;
  let opened: number;
  let container: KeysContainer;
  let cleanup: () => Promise<void>;
  let program: Command;

  beforeEach(async () => {
    const store = await openEmbedded(systemClock);
    cleanup = store.cleanup;
    const workspaces = new WorkspaceService(store.storage, systemClock);
    const apiKeys = new ApiKeyService({ storage: store.storage, clock: systemClock, workspaces });
    await store.storage.ensureIndexes();
    await workspaces.create({ name: 'Acme', slug: 'acme' }, 'usr_1');
    container = { apiKeys, workspaces };
    lines = [];
    stdin = '';
    opened = 0;
    program = new Command('gatehouse')
      .exitOverride()
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
    registerKeyCommands(
      program,
      async (fn) => {
        opened++;
        return fn(container);
      },
      { out: (l) => lines.push(l), readStdin: () => stdin },
    );
  });

  afterEach(async () => {
    await container.apiKeys.close();
    await cleanup();
  });

  const run = async (...argv: string[]) => {
    lines = [];
    await program.parseAsync(argv, { from: 'user' });
    return lines;
  };
  const fails = async (...argv: string[]) => {
    try {
      await run(...argv);
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected the command to fail');
  };

  it('creates a key and prints its secret once; show and list never print it', async () => {
    const out = await run(
      'keys',
      'create',
      '-w',
      'acme',
      '-n',
      'ci',
      '-s',
      'videos:read, videos:write',
      '--rate-limit',
      '10/60',
    );
    const secret = out.at(-1)!.replace('secret (shown once, store it now): ', '');
    expect(secret).toMatch(/^sk_live_[0-9A-Za-z]{33}$/);
    const id = out[0]!.replace('id:', '').trim();
    expect(out).toContain('scopes:      videos:read, videos:write');
    expect(out).toContain('rate limit:  10 per 60 s');
    const shown = await run('keys', 'show', id, '-w', 'acme');
    expect(shown.join('\n')).not.toContain(secret);
    expect(shown).toContain('status:      active');
    const listed = await run('keys', 'list', '-w', 'acme');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toContain(id);
    expect(listed[0]).not.toContain(secret);
    const json = JSON.parse((await run('keys', 'list', '-w', 'acme', '--json'))[0]!);
    expect(json).toMatchObject({ data: [{ id, name: 'ci', status: 'active' }], next_cursor: null });
  });

  it('rotates and revokes', async () => {
    const created = JSON.parse(
      (
        await run('keys', 'create', '-w', 'acme', '-n', 'ci', '-p', 'read-only', '--env', 'test', '--json')
      )[0]!,
    );
    expect(created).toMatchObject({
      environment: 'test',
      scopes: ['videos:read', 'collections:read', 'members:read'],
    });
    const rotated = await run('keys', 'rotate', created.id, '-w', 'acme', '--grace', '60');
    expect(rotated[0]).toMatch(/the old secret works until /);
    const secret = rotated[1]!.replace('secret (shown once, store it now): ', '');
    expect((await container.apiKeys.verify({ key: secret })).valid).toBe(true);
    expect((await container.apiKeys.verify({ key: created.secret })).valid).toBe(true);
    expect((await run('keys', 'revoke', created.id, '-w', 'acme'))[0]).toMatch(/^revoked key_/);
    expect(await container.apiKeys.verify({ key: secret })).toMatchObject({ reason: 'key_revoked' });
  });

  it('reports service errors and bad options', async () => {
    expect((await fails('keys', 'create', '-w', 'acme', '-n', 'x')).message).toMatch(/at least one scope/);
    expect((await fails('keys', 'create', '-w', 'nope', '-n', 'x', '-s', 'videos:read')).message).toMatch(
      /no workspace/,
    );
    expect(await fails('keys', 'create', '-w', 'acme', '-n', 'x', '--env', 'prod')).toBeInstanceOf(
      CommanderError,
    );
    expect(await fails('keys', 'create', '-w', 'acme', '-n', 'x', '--rate-limit', 'lots')).toBeInstanceOf(
      CommanderError,
    );
    expect((await fails('keys', 'show', 'key_0000000000000000', '-w', 'acme')).message).toMatch(
      /No such API key/,
    );
  });

  it('checks keys offline without opening the store, from argv or stdin', async () => {
    const { key } = generateKey('vg_key', 'live');
    expect(await run('keys', 'check', key)).toEqual([
      'well-formed: prefix vg_key, environment live, checksum OK',
    ]);
    stdin = `${key}\n`;
    expect(await run('keys', 'check')).toEqual(['well-formed: prefix vg_key, environment live, checksum OK']);
    expect(await run('keys', 'check', '-')).toHaveLength(1);
    const bad = `${key.slice(0, -1)}${key.endsWith('0') ? '1' : '0'}`;
    const err = await fails('keys', 'check', bad);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).exitCode).toBe(1);
    expect(lines[0]).toMatch(/checksum does not match/);
    expect(await fails('keys', 'check', 'hello')).toBeInstanceOf(CommanderError);
    expect(lines[0]).toMatch(/does not have the key format/);
    expect(opened).toBe(0);
    expect(checkKeyOffline(key).ok).toBe(true);
  });

  it('verifies against the store with --verify', async () => {
    const created = JSON.parse(
      (await run('keys', 'create', '-w', 'acme', '-n', 'ci', '-s', 'videos:read', '--json'))[0]!,
    );
    const ok = await run('keys', 'check', created.secret, '--verify', '-w', 'acme', '-s', 'videos:read');
    expect(ok[1]).toMatch(/^valid: key_\w+ \(ci\) in ws_\w+, live, scopes videos:read$/);
    await fails('keys', 'check', created.secret, '--verify', '-s', 'videos:write');
    expect(lines[1]).toBe(`refused (${created.id}): missing scopes videos:write`);
    await fails('keys', 'check', generateKey('sk', 'live').key, '--verify');
    expect(lines[1]).toBe('invalid: no such key');
  });
});
