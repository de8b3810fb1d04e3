/**
 * `gatehouse keys create|list|show|revoke|rotate|check` as a real process against the MongoDB a
 * running server uses: what the CLI does takes effect on that server's next request.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { KEY_PATTERN } from '../../../src/api-keys/format.ts';
import { type CliResult, runCli } from '../../helpers/cli.ts';
import { mongoUriWithDb } from '../../helpers/server.ts';
import { CHEAP, call, type KeyWorld, keyWorld } from './fixtures.ts';

let w: KeyWorld;
let uri: string;

function cli(args: string[], stdin?: string): Promise<CliResult> {
  return runCli(args, { MONGODB_URI: uri, ...CHEAP }, stdin);
}

/** The command's JSON answer (the operator's log lines, e.g. store warnings, share stdout). */
function answer(out: string): Record<string, unknown> {
  const line = out.split('\n').find((l) => l.startsWith('{"id"'));
  if (!line) throw new Error(`no JSON answer in: ${out}`);
  return JSON.parse(line);
}

beforeAll(async () => {
  uri = mongoUriWithDb(inject('mongoUri'));
  w = await keyWorld({ kind: 'mongo', uri });
});
afterAll(() => w?.server.close());

it('creates, lists, shows, rotates, checks and revokes keys that the running server honours', async () => {
  const created = await cli([
    'keys',
    'create',
    '-w',
    w.a.id,
    '-n',
    'from the cli',
    '-s',
    'api_keys:read,videos:read',
    '--json',
  ]);
  expect(created.code, created.err).toBe(0);
  const made = answer(created.out) as { id: string; secret: string };
  expect(made.secret).toMatch(new RegExp(`^${KEY_PATTERN}$`));
  expect((await call(w.server.url, 'GET', '/api/v1/keys', made.secret)).status).toBe(200);

  const listed = await cli(['keys', 'list', '-w', w.a.id]);
  expect(listed.code, listed.err).toBe(0);
  expect(listed.out).toContain(made.id);
  expect(listed.out).not.toContain(made.secret);
  const shown = await cli(['keys', 'show', made.id, '-w', w.a.id]);
  expect(shown.out).toContain('from the cli');

  const checked = await cli(['keys', 'check'], `${made.secret}\n`);
  expect(checked.code, checked.err).toBe(0);
  const noise = await cli(['keys', 'check'], 'sk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n');
  expect(noise.code).not.toBe(0);

  const rotated = await cli(['keys', 'rotate', made.id, '-w', w.a.id, '--json']);
  expect(rotated.code, rotated.err).toBe(0);
  const fresh = answer(rotated.out).secret as string;
  expect((await call(w.server.url, 'GET', '/api/v1/keys', made.secret)).status).toBe(401);
  expect((await call(w.server.url, 'GET', '/api/v1/keys', fresh)).status).toBe(200);

  const revoked = await cli(['keys', 'revoke', made.id, '-w', w.a.id]);
  expect(revoked.code, revoked.err).toBe(0);
  const after = await call(w.server.url, 'GET', '/api/v1/keys', fresh);
  expect(after.status).toBe(401);
  expect(after.body.error).toBe('key_revoked');
}, 120_000);
