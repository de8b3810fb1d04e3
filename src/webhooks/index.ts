import type { Logger } from '../logger.ts';
import type { Clock, Storage } from '../storage/port.ts';
import { DEFAULT_RETRY_POLICY } from './backoff.ts';
import { DeliveryQueue } from './delivery.ts';
import type { EmitWebhook } from './events.ts';
import { DEFAULT_EXPIRY_LEAD_MS, type ExpiringKeysSource, startExpiryScanner } from './expiring.ts';
import type { Resolver } from './guarded-fetch.ts';
import { secretBoxFor } from './secret-box.ts';
import { WebhookService } from './service.ts';

export type { EmitWebhook, WebhookEvent, WebhookEventType } from './events.ts';
export { WEBHOOK_EVENT_TYPES } from './events.ts';
export type { ExpiringKeysSource } from './expiring.ts';
export type { EndpointTarget } from './model.ts';
export { type DeliveryView, type EndpointView, WebhookService } from './service.ts';
export { verifySignature } from './signature.ts';

export interface WebhooksOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** WEBHOOK_SECRETS_KEY, newest first; undefined = a development key kept in the store. */
  secretsKeys?: readonly string[];
  /** true outside production: http:// and loopback endpoint URLs are accepted. */
  allowInsecureUrls: boolean;
  timeoutMs?: number;
  maxAttempts?: number;
  /** First retry delay (doubles per attempt; default 30 s). */
  retryBaseDelayMs?: number;
  deliveryRetentionDays?: number;
  /** How long before a key's expiry `key.expiring` is sent. */
  expiringLeadMs?: number;
  /** How often the expiry scan runs (default 15 min). */
  expiringScanIntervalMs?: number;
  fetch?: typeof globalThis.fetch;
  /** How endpoint host names are resolved at delivery (default: the system resolver). */
  resolve?: Resolver;
}

export interface Webhooks {
  service: WebhookService;
  queue: DeliveryQueue;
  emit: EmitWebhook;
  /** Starts the delivery worker, and the key.expiring scanner when given the keys source. */
  start(keys?: ExpiringKeysSource): void;
  /** Stops both and waits for attempts in flight (bounded by the attempt timeout). */
  stop(): Promise<void>;
}

/** The webhook domain, built once by the container. */
export async function createWebhooks(o: WebhooksOptions): Promise<Webhooks> {
  const secretBox = await secretBoxFor(o.secretsKeys, o.storage);
  const common = { storage: o.storage, clock: o.clock, logger: o.logger, secretBox };
  const service = new WebhookService({ ...common, allowInsecureUrls: o.allowInsecureUrls });
  const queue = new DeliveryQueue({
    ...common,
    allowInsecureUrls: o.allowInsecureUrls,
    fetch: o.fetch,
    resolve: o.resolve,
    timeoutMs: o.timeoutMs,
    policy: {
      ...DEFAULT_RETRY_POLICY,
      maxAttempts: o.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
      baseDelayMs: o.retryBaseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
    },
    retentionDays: o.deliveryRetentionDays,
  });
  const emit: EmitWebhook = (event) => queue.emit(event);
  let scanner: { stop(): Promise<void> } | undefined;
  return {
    service,
    queue,
    emit,
    start(keys) {
      queue.start();
      if (keys && !scanner) {
        scanner = startExpiryScanner({
          keys,
          emit,
          storage: o.storage,
          clock: o.clock,
          logger: o.logger,
          leadTimeMs: o.expiringLeadMs ?? DEFAULT_EXPIRY_LEAD_MS,
          intervalMs: o.expiringScanIntervalMs,
        });
      }
    },
    async stop() {
      await Promise.all([queue.stop(), scanner?.stop()]);
      scanner = undefined;
    },
  };
}
