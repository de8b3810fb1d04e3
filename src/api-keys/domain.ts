import { AuditLog } from '../audit/service.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock, Storage } from '../storage/port.ts';
import { createWebhooks, type Webhooks } from '../webhooks/index.ts';
import { ApiKeyService, type WorkspaceLookup } from './service.ts';

/**
 * The API-key domain as the container builds it: the audit trail, the webhooks (queue, worker,
 * `key.expiring` scanner) and the key service that emits into both. Kept here so that the
 * composition root only names the three services and their order of shutdown.
 */
export interface KeyDomain {
  apiKeys: ApiKeyService;
  webhooks: Webhooks;
  audit: AuditLog;
  /** Starts the delivery worker and the expiry scanner (servers; CLI commands need not). */
  start(): void;
  /** Stops the workers, writes the buffered "last used" and pending audit entries. */
  close(): Promise<void>;
}

export interface KeyDomainDeps {
  config: Pick<Config, 'webhooks' | 'apiKeys'>;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  metrics?: Pick<Metrics, 'counter'>;
  workspaces: WorkspaceLookup;
}

export async function createKeyDomain(d: KeyDomainDeps): Promise<KeyDomain> {
  const audit = new AuditLog({ storage: d.storage, clock: d.clock, logger: d.logger });
  const webhooks = await createWebhooks({
    storage: d.storage,
    clock: d.clock,
    logger: d.logger,
    secretsKeys: d.config.webhooks.secretsKeys,
    allowInsecureUrls: d.config.webhooks.allowInsecureUrls,
    retryBaseDelayMs: d.config.webhooks.retryBaseDelayMs,
    expiringLeadMs: d.config.webhooks.expiringLeadMs,
    expiringScanIntervalMs: d.config.webhooks.expiringScanMs,
  });
  const apiKeys = new ApiKeyService({
    storage: d.storage,
    clock: d.clock,
    logger: d.logger,
    workspaces: d.workspaces,
    metrics: d.metrics,
    emit: webhooks.emit,
    audit,
    usageFlushMs: d.config.apiKeys.usageFlushMs,
    creditsLowThreshold: d.config.apiKeys.creditsLowThreshold,
    recordCacheMs: d.config.apiKeys.recordCacheMs,
  });
  let started = false;
  return {
    apiKeys,
    webhooks,
    audit,
    start() {
      if (started) return;
      started = true;
      webhooks.start(apiKeys);
    },
    async close() {
      await webhooks.stop();
      await apiKeys.close();
      await audit.flush();
    },
  };
}
