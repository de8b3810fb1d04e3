import type Provider from 'oidc-provider';
import type { Config } from './config/index.ts';
import { OpenApiRegistry } from './http/api.ts';
import { createLogger, type Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { createProvider } from './oidc/provider.ts';
import type { SigningKeyStore } from './oidc/signing-keys.ts';
import { type Clock, createStorage, type Storage, systemClock } from './storage/index.ts';

/** The one composition root: storage, then services, then the provider. No globals. */
export interface Container {
  config: Config;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  storage: Storage;
  provider: Provider;
  signingKeys: SigningKeyStore;
  openapi: OpenApiRegistry;
  // Services of later features are added here, and built below in dependency order.
  close(): Promise<void>;
}

export interface ContainerOverrides {
  clock?: Clock;
  logger?: Logger;
  storage?: Storage;
  collectDefaultMetrics?: boolean;
}

export async function createContainer(
  config: Config,
  overrides: ContainerOverrides = {},
): Promise<Container> {
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? createLogger(config.logLevel);
  const metrics = new Metrics(overrides.collectDefaultMetrics ?? true);
  const storage =
    overrides.storage ??
    (await createStorage(config.storage, {
      clock,
      sweepIntervalMs: config.ttlSweepIntervalMs,
      onWarning: (message) => logger.warn(message),
    }));
  try {
    const { provider, keys } = await createProvider({
      issuer: config.issuer,
      storage,
      clock,
      logger,
      cookieSecrets: config.cookieSecrets,
      trustProxy: config.trustProxy,
    });
    // Build services here (repositories declare their collections before ensureIndexes).
    await storage.ensureIndexes();
    return {
      config,
      clock,
      logger,
      metrics,
      storage,
      provider,
      signingKeys: keys,
      openapi: new OpenApiRegistry(),
      close: () => storage.close(),
    };
  } catch (err) {
    await storage.close().catch(() => {});
    throw err;
  }
}
