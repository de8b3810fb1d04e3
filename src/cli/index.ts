import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config/index.ts';
import { createContainer } from '../container.ts';
import { createLogger } from '../logger.ts';
import { main as serve } from '../main.ts';
import { MIN_SIGNING_KEY_RETENTION } from '../oidc/resources.ts';
import { clientCommands } from './clients.ts';
import { registerKeyCommands } from './keys.ts';
import { userCommands } from './users.ts';
import { workspaceCommands } from './workspaces.ts';

/**
 * The operator CLI. Every command runs the same services as the server, against the store the
 * configuration names (stop an embedded-store server first: one process per data directory).
 */
export function buildCli(): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse identity provider: server and operator commands')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve')
    .description('serve Gatehouse (what `npm start` runs)')
    .action(async () => {
      await serve();
    });

  const keys = program.command('keys').description('signing keys and API keys');
  keys
    .command('rotate-signing')
    .description(
      'publish new signing keys and sign with them; old keys stay in JWKS until their tokens expire',
    )
    .option(
      '--retain <seconds>',
      'how long old keys stay published (at least the longest token lifetime: 24 h + 1 min)',
      (v) => atLeast(v, '--retain', MIN_SIGNING_KEY_RETENTION),
      MIN_SIGNING_KEY_RETENTION,
    )
    .action(async (opts: { retain: number }) => {
      await withContainer(async (c) => {
        const live = await c.signingKeys.rotate(opts.retain);
        const signing = live.filter((k) => !k.retiredAt).map((k) => `${k.alg} ${k.kid}`);
        print(`signing with: ${signing.join(', ')}`);
        print(`still published: ${live.filter((k) => k.retiredAt).length} retired key(s)`);
      });
    });

  workspaceCommands(program, withContainer);
  userCommands(program, withContainer);
  registerKeyCommands(program, withContainer);
  clientCommands(program, withContainer);

  return program;
}

function atLeast(value: string, name: string, min: number): number {
  const n = positive(value, name);
  if (n < min)
    throw new InvalidArgumentError(`${name} must be at least ${min}: tokens signed before live that long`);
  return n;
}

function positive(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${name} must be a positive whole number`);
  return n;
}

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Opens the configured store and services for one command, then closes them. */
export async function withContainer<T>(
  fn: (c: Awaited<ReturnType<typeof createContainer>>) => Promise<T>,
): Promise<T> {
  const { config } = loadConfig();
  const c = await createContainer(config, { logger: createLogger('warn'), collectDefaultMetrics: false });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: invalid configuration: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`gatehouse: ${(err as Error).message}\n`);
    return 1;
  }
}

const code = await runCli(process.argv.slice(2));
if (code !== 0 || !process.argv.slice(2).includes('serve')) process.exitCode = code;
