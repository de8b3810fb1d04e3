import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.ts';
import { type Container, type ContainerOverrides, createContainer } from '../../src/container.ts';
import { createLogger } from '../../src/logger.ts';
import { listen, type RunningServer } from '../../src/server.ts';

export interface TestServer extends RunningServer {
  container: Container;
  issuer: string;
}

export type StoreChoice = { kind: 'embedded'; dataDir?: string } | { kind: 'mongo'; uri: string };

/**
 * A real Gatehouse on 127.0.0.1 and a free port. PUBLIC_URL is the bound address, so the issuer
 * matches what clients call.
 */
export async function startGatehouse(
  store: StoreChoice = { kind: 'embedded' },
  env: Record<string, string> = {},
  overrides: ContainerOverrides = {},
): Promise<TestServer & { dataDir?: string }> {
  const dataDir =
    store.kind === 'embedded' ? (store.dataDir ?? mkdtempSync(join(tmpdir(), 'gh-test-'))) : undefined;
  const port = await freePort();
  const { config } = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'silent',
    SHUTDOWN_TIMEOUT_MS: '2000',
    GATEHOUSE_CONFIG_DIR: join(tmpdir(), 'gatehouse-no-config'),
    ...(store.kind === 'embedded' ? { STORAGE: 'embedded', DATA_DIR: dataDir! } : { MONGODB_URI: store.uri }),
    ...env,
  });
  const container = await createContainer(config, {
    logger: createLogger('silent'),
    collectDefaultMetrics: false,
    ...overrides,
  });
  const running = await listen(container);
  return { ...running, container, issuer: config.issuer, dataDir };
}

export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'gh-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The provisioned test server's URI with a database of its own, so test files never collide. */
export function mongoUriWithDb(
  baseUri: string,
  db = `gh_${Math.random().toString(36).slice(2, 10)}`,
): string {
  const url = new URL(baseUri);
  url.pathname = `/${db}`;
  return url.toString();
}
