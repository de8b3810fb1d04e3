import { bootstrap, bootstrapBanner } from './accounts/bootstrap.ts';
import { ConfigError, loadConfig } from './config/index.ts';
import { createContainer } from './container.ts';
import { listen } from './server.ts';

/** Boot only: load config, build the container, listen; drain on SIGTERM/SIGINT. */
export async function main(): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gatehouse: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const { config, warnings } = loaded;
  const c = await createContainer(config);
  for (const w of warnings) c.logger.warn(`unsafe default: ${w}`);
  // First start on an empty store: workspace "Default" and its owner (the password only on stdout).
  const boot = await bootstrap(c);
  if (boot)
    c.logger.info(
      { workspace: boot.workspace.slug, owner: boot.owner.email },
      'bootstrap: created the first workspace',
    );
  const running = await listen(c);
  c.logger.info(
    { url: running.url, issuer: config.issuer, storage: c.storage.description },
    'gatehouse listening',
  );
  const banner = [
    `Gatehouse listening on ${running.url}`,
    `  issuer:  ${config.issuer}`,
    `  storage: ${c.storage.description}`,
    ...warnings.map((w) => `  warning: ${w}`),
    ...(boot ? bootstrapBanner(boot, config.issuer) : []),
  ];
  process.stdout.write(`${banner.join('\n')}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    c.logger.info({ signal }, 'shutting down: draining requests');
    running.close().then(
      () => process.exit(0),
      (err) => {
        c.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'));
if (isEntry) {
  main().catch((err) => {
    process.stderr.write(`gatehouse: failed to start: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
