import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError } from 'commander';
import { inspectKey, KEY_ENVIRONMENTS, type KeyEnvironment } from '../api-keys/format.ts';
import { type ApiKeyView, serializeKey } from '../api-keys/model.ts';
import type { ApiKeyService } from '../api-keys/service.ts';
import type { VerifyResult } from '../api-keys/verify.ts';

/**
 * `gatehouse keys create|list|show|revoke|rotate|check`: the operator's API-key commands, over
 * the same service as the API. The operator holds every scope. `check` reads the key from
 * standard input when given `-` or nothing (a key on the command line ends up in shell history)
 * and works offline; `--verify` also asks the store.
 */
export interface KeysContainer {
  apiKeys: ApiKeyService;
  workspaces: { resolve(idOrSlug: string): Promise<{ id: string } | null> };
}

export type WithKeysContainer = <T>(fn: (c: KeysContainer) => Promise<T>) => Promise<T>;

export interface KeysCliIo {
  out(line: string): void;
  /** The key for `check` when it is not on the command line. */
  readStdin(): string;
}

const defaultIo: KeysCliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  readStdin: () => readFileSync(0, 'utf8'),
};

const OPERATOR = { scopes: 'all' as const };

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function environment(v: string): KeyEnvironment {
  if (!(KEY_ENVIRONMENTS as readonly string[]).includes(v))
    throw new InvalidArgumentError('expected live or test');
  return v as KeyEnvironment;
}

function rateLimit(v: string): { requests: number; windowSeconds: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected <requests>/<seconds>, e.g. 100/60');
  return { requests: Number(m[1]), windowSeconds: Number(m[2]) };
}

function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number');
  return Number(v);
}

function describeKey(k: ApiKeyView): string[] {
  const d = (x: Date | null) => (x ? x.toISOString() : '-');
  return [
    `id:          ${k.id}`,
    `name:        ${k.name}`,
    `workspace:   ${k.workspaceId}`,
    `environment: ${k.environment}`,
    `status:      ${k.status}`,
    `hint:        ${k.hint}`,
    `scopes:      ${k.grantAll ? 'ALL (grant-all: every current and future scope)' : k.scopes.join(', ')}`,
    `expires:     ${d(k.expiresAt)}${k.temporary ? ' (temporary)' : ''}`,
    `rate limit:  ${k.rateLimit ? `${k.rateLimit.requests} per ${k.rateLimit.windowSeconds} s` : '-'}`,
    `created:     ${d(k.createdAt)}`,
    `rotated:     ${d(k.rotatedAt)}${k.previousSecretExpiresAt ? ` (old secret valid until ${d(k.previousSecretExpiresAt)})` : ''}`,
    `revoked:     ${d(k.revokedAt)}`,
    `last used:   ${d(k.lastUsedAt)}${k.lastUsedIp ? ` from ${k.lastUsedIp}` : ''}`,
  ];
}

/** One line per check outcome; `ok` false when the key is not a well-formed Gatehouse key. */
export function checkKeyOffline(candidate: string): { ok: boolean; lines: string[] } {
  const r = inspectKey(candidate);
  if (r.ok) {
    return {
      ok: true,
      lines: [`well-formed: prefix ${r.prefix}, environment ${r.environment}, checksum OK`],
    };
  }
  const why =
    r.reason === 'bad_checksum'
      ? 'its checksum does not match (mistyped or truncated?)'
      : 'it does not have the key format';
  return { ok: false, lines: [`not a Gatehouse API key: ${why}`] };
}

export function describeVerification(r: VerifyResult): string {
  if (r.valid) {
    const scopes = r.scopes === 'all' ? 'ALL' : r.scopes.join(', ');
    return `valid: ${r.keyId} (${r.name}) in ${r.workspaceId}, ${r.environment}, scopes ${scopes}`;
  }
  switch (r.reason) {
    case 'key_invalid':
      return 'invalid: no such key';
    case 'insufficient_scope':
      return `refused (${r.keyId}): missing scopes ${r.missingScopes.join(', ')}`;
    case 'rate_limited':
      return `refused (${r.keyId}): rate limited, retry after ${r.retryAfter} s`;
    case 'credits_exhausted':
      return `refused (${r.keyId}): credits exhausted`;
    default:
      return `refused (${r.keyId}): ${r.reason.replace('key_', '')}`;
  }
}

async function workspaceId(c: KeysContainer, idOrSlug: string): Promise<string> {
  const ws = await c.workspaces.resolve(idOrSlug);
  if (!ws) throw new Error(`no workspace ${JSON.stringify(idOrSlug)}`);
  return ws.id;
}

export function registerKeyCommands(
  program: Command,
  withContainer: WithKeysContainer,
  io: KeysCliIo = defaultIo,
): Command {
  const keys =
    program.commands.find((c) => c.name() === 'keys') ??
    program.command('keys').description('signing keys and API keys');
  const out = io.out;

  keys
    .command('create')
    .description('create an API key; prints its secret once')
    .requiredOption('-w, --workspace <id|slug>', 'the workspace')
    .requiredOption('-n, --name <name>', 'what the key is for')
    .option('-e, --env <env>', 'live or test', environment, 'live' as KeyEnvironment)
    .option('-s, --scopes <list>', 'comma-separated scopes', list)
    .option('-p, --preset <name>', 'a preset (read-only, content-agent, full-access, or a workspace preset)')
    .option('--grant-all', 'every current and future scope (only for clients you fully control)')
    .option('--temporary', 'expires in 7 days unless --expires-at is given')
    .option('--expires-at <iso>', 'expiry, e.g. 2030-01-31T00:00:00Z')
    .option('--rate-limit <requests/seconds>', 'per-key rate limit, e.g. 100/60', rateLimit)
    .option('--json', 'print JSON')
    .action(async (o) => {
      await withContainer(async (c) => {
        const ws = await workspaceId(c, o.workspace);
        const { key, secret } = await c.apiKeys.create(
          ws,
          {
            name: o.name,
            environment: o.env,
            scopes: o.scopes,
            preset: o.preset,
            grantAll: o.grantAll === true,
            temporary: o.temporary === true,
            expiresAt: o.expiresAt,
            rateLimit: o.rateLimit,
          },
          OPERATOR,
        );
        if (o.json) return out(JSON.stringify({ ...serializeKey(key), secret }));
        for (const line of describeKey(key)) out(line);
        out('');
        out(`secret (shown once, store it now): ${secret}`);
      });
    });

  keys
    .command('list')
    .description("list a workspace's API keys, newest first")
    .requiredOption('-w, --workspace <id|slug>', 'the workspace')
    .option('--status <status>', 'active, revoked or expired')
    .option('-e, --env <env>', 'live or test', environment)
    .option('--limit <n>', 'page size (1-100)', wholeNumber, 20)
    .option('--cursor <cursor>', 'the next page, as printed by the previous one')
    .option('--json', 'print JSON')
    .action(async (o) => {
      if (o.status && !['active', 'revoked', 'expired'].includes(o.status)) {
        throw new InvalidArgumentError('--status must be active, revoked or expired');
      }
      if (o.limit < 1 || o.limit > 100) throw new InvalidArgumentError('--limit must be from 1 to 100');
      await withContainer(async (c) => {
        const ws = await workspaceId(c, o.workspace);
        const page = await c.apiKeys.list(ws, {
          status: o.status,
          environment: o.env,
          limit: o.limit,
          cursor: o.cursor,
        });
        if (o.json)
          return out(JSON.stringify({ data: page.data.map(serializeKey), next_cursor: page.nextCursor }));
        if (page.data.length === 0) out('no keys');
        for (const k of page.data) {
          const scopes = k.grantAll ? 'ALL' : k.scopes.join(',');
          out([k.id, k.hint, k.environment, k.status.padEnd(7), k.name, scopes].join('  '));
        }
        if (page.nextCursor) out(`more: --cursor ${page.nextCursor}`);
      });
    });

  keys
    .command('show <keyId>')
    .description('show one API key (never its secret)')
    .requiredOption('-w, --workspace <id|slug>', 'the workspace')
    .option('--json', 'print JSON')
    .action(async (keyId: string, o) => {
      await withContainer(async (c) => {
        const key = await c.apiKeys.get(await workspaceId(c, o.workspace), keyId);
        if (o.json) return out(JSON.stringify(serializeKey(key)));
        for (const line of describeKey(key)) out(line);
      });
    });

  keys
    .command('revoke <keyId>')
    .description('revoke an API key at once')
    .requiredOption('-w, --workspace <id|slug>', 'the workspace')
    .action(async (keyId: string, o) => {
      await withContainer(async (c) => {
        const key = await c.apiKeys.revoke(await workspaceId(c, o.workspace), keyId);
        out(`revoked ${key.id} (${key.name}) at ${key.revokedAt?.toISOString()}`);
      });
    });

  keys
    .command('rotate <keyId>')
    .description('give an API key a new secret; the old one stops working at once unless --grace')
    .requiredOption('-w, --workspace <id|slug>', 'the workspace')
    .option('--grace <seconds>', 'keep the old secret working this long (at most 7 days)', wholeNumber, 0)
    .option('--json', 'print JSON')
    .action(async (keyId: string, o) => {
      await withContainer(async (c) => {
        const ws = await workspaceId(c, o.workspace);
        const { key, secret } = await c.apiKeys.rotate(ws, keyId, { graceSeconds: o.grace }, OPERATOR);
        if (o.json) return out(JSON.stringify({ ...serializeKey(key), secret }));
        const old = key.previousSecretExpiresAt
          ? `until ${key.previousSecretExpiresAt.toISOString()}`
          : 'no longer';
        out(`rotated ${key.id} (${key.name}); the old secret works ${old}`);
        out(`secret (shown once, store it now): ${secret}`);
      });
    });

  keys
    .command('check [key]')
    .description(
      'tell whether a string is a well-formed API key (offline); `-` or nothing reads it from stdin',
    )
    .option('--verify', 'also look the key up in the store')
    .option('-w, --workspace <id|slug>', 'with --verify: only keys of this workspace are valid')
    .option('-s, --scopes <list>', 'with --verify: scopes the key must hold', list)
    .action(async (arg: string | undefined, o) => {
      const candidate = (arg === undefined || arg === '-' ? io.readStdin() : arg).trim();
      const offline = checkKeyOffline(candidate);
      for (const line of offline.lines) out(line);
      if (!offline.ok)
        return keys.error('the key is not well-formed', { exitCode: 1, code: 'gatehouse.key_malformed' });
      if (!o.verify) return;
      const result = await withContainer(async (c) => {
        const ws = o.workspace ? await workspaceId(c, o.workspace) : undefined;
        return c.apiKeys.verify({ key: candidate, workspaceId: ws, requiredScopes: o.scopes ?? [] });
      });
      out(describeVerification(result));
      if (!result.valid) keys.error('the key is not valid', { exitCode: 1, code: 'gatehouse.key_refused' });
    });

  return keys;
}
