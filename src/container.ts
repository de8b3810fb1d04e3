import type Provider from 'oidc-provider';
import { AccountService } from './accounts/service.ts';
import { createKeyDomain } from './api-keys/domain.ts';
import type { ApiKeyService } from './api-keys/service.ts';
import type { AuditLog } from './audit/service.ts';
import { AuthRateLimits } from './auth/rate-limits.ts';
import type { ClientService } from './clients/service.ts';
import type { Config } from './config/index.ts';
import { OpenApiRegistry } from './http/api.ts';
import { createLogger, type Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { createOidcCore } from './oidc/core.ts';
import type { SigningKeyRing, SigningKeyStore } from './oidc/signing-keys.ts';
import type { OidcTokenService } from './oidc/tokens.ts';
import { type Clock, createStorage, type Storage, systemClock } from './storage/index.ts';
import type { Webhooks } from './webhooks/index.ts';
import { WorkspaceService } from './workspaces/service.ts';

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
  accounts: AccountService;
  workspaces: WorkspaceService;
  authLimits: AuthRateLimits;
  apiKeys: ApiKeyService;
  webhooks: Webhooks;
  audit: AuditLog;
  /** The one token service (src/oidc/tokens.ts): login API tokens, verification, revocation. */
  tokens: OidcTokenService;
  /** OAuth clients of workspaces (src/clients). */
  clients: ClientService;
  /** The signing keys this process uses, kept in step with the store. */
  signingKeyRing: SigningKeyRing;
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
    const accounts = new AccountService(storage, clock, config.passwordHashing, metrics);
    const authLimits = new AuthRateLimits(storage, clock, config.authRateLimits);
    const workspaces = new WorkspaceService(storage, clock);
    const keyDomain = await createKeyDomain({ config, storage, clock, logger, metrics, workspaces });
    const oidcCore = await createOidcCore({
      issuer: config.issuer,
      storage,
      clock,
      logger,
      cookieSecrets: config.cookieSecrets,
      trustProxy: config.trustProxy,
      signingKeysPollMs: config.signingKeysPollMs,
      refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
      accounts,
      workspaces,
      apiKeys: keyDomain.apiKeys,
    });
    const { provider, keys } = oidcCore;
    // Build services here (repositories declare their collections before ensureIndexes).
    await storage.ensureIndexes();
    keyDomain.start();
    return {
      config,
      clock,
      logger,
      metrics,
      storage,
      provider,
      signingKeys: keys,
      openapi: new OpenApiRegistry(),
      accounts,
      workspaces,
      authLimits,
      apiKeys: keyDomain.apiKeys,
      webhooks: keyDomain.webhooks,
      audit: keyDomain.audit,
      tokens: oidcCore.tokens,
      clients: oidcCore.clients,
      signingKeyRing: oidcCore.ring,
      close: async () => {
        oidcCore.stop();
        await keyDomain.close().catch((err) => logger.warn({ err }, 'key workers did not stop cleanly'));
        await storage.close();
      },
    };
  } catch (err) {
    await storage.close().catch(() => {});
    throw err;
  }
}
