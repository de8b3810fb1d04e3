import type { Logger } from '../logger.ts';
import { type Clock, DuplicateKeyError, type Storage } from '../storage/port.ts';
import { isPublicAddress } from './address.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from './backoff.ts';
import { buildPayload, isWebhookEventType, newId, timeOrderedId, type WebhookEvent } from './events.ts';
import { guardedFetch, type Resolver } from './guarded-fetch.ts';
import {
  assertWorkspaceId,
  type DeliveryAttempt,
  type WebhookDelivery,
  type WebhookEndpoint,
} from './model.ts';
import type { SecretBox } from './secret-box.ts';
import { type SendOutcome, sendSigned } from './send.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';
import { signingSecrets, type WebhookCollections, webhookCollections } from './store.ts';
import { checkEndpointUrl } from './url.ts';

export interface DeliveryQueueOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  secretBox: SecretBox;
  allowInsecureUrls: boolean;
  /**
   * Default: node's http(s) client guarded at connect time (guarded-fetch.ts): with insecure URLs
   * not allowed, every address a host resolves to must be public, and the connection goes there.
   */
  fetch?: typeof globalThis.fetch;
  /** How host names are resolved at connect time (default: the system resolver). */
  resolve?: Resolver;
  policy?: RetryPolicy;
  /** Per attempt, headers and body included (default 10 s). */
  timeoutMs?: number;
  /** How often the worker looks for due deliveries (default 1 s); `emit` also wakes it. */
  pollIntervalMs?: number;
  /** Deliveries in flight at once per process (default 8). */
  concurrency?: number;
  /** How long a claim holds before another process may take the delivery over (> timeout). */
  lockMs?: number;
  /** How long the delivery log is kept (default 30 days). */
  retentionDays?: number;
  random?: () => number;
  /** Called after every attempt (metrics). */
  onAttempt?: (a: {
    event: string;
    result: DeliveryAttempt['result'];
    statusCode?: number;
    durationMs: number;
  }) => void;
}

/**
 * `emit` turns a domain event into one durable delivery per subscribed endpoint and returns:
 * nothing here waits for a receiver. The worker (start/stop) claims due deliveries so that any
 * number of processes can share one MongoDB (see `claim`), and POSTs them signed, retrying with
 * backoff until success or `maxAttempts`. The file is a little over 300 lines because the
 * worker's state machine (claim → attempt → finish) reads best in one place.
 */
export class DeliveryQueue {
  private readonly c: WebhookCollections;
  private readonly fetch: typeof globalThis.fetch;
  private readonly policy: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly concurrency: number;
  private readonly lockMs: number;
  private readonly retentionMs: number;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private tick: Promise<void> | undefined;
  private again = false;

  constructor(private readonly o: DeliveryQueueOptions) {
    this.c = webhookCollections(o.storage);
    this.fetch =
      o.fetch ??
      guardedFetch({
        allowAddress: o.allowInsecureUrls ? () => true : isPublicAddress,
        resolve: o.resolve,
      });
    this.policy = o.policy ?? DEFAULT_RETRY_POLICY;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.pollIntervalMs = o.pollIntervalMs ?? 1000;
    this.concurrency = o.concurrency ?? 8;
    this.lockMs = o.lockMs ?? Math.max(this.timeoutMs * 3, 60_000);
    this.retentionMs = (o.retentionDays ?? 30) * 86_400_000;
  }

  /**
   * Queues the event for every enabled endpoint subscribed to it (the workspace's, and the key's
   * when `keyId` is set). Resolves once the deliveries are stored, with how many; never rejects:
   * a storage failure is logged and answers 0, so the caller's own work is never undone by it.
   */
  async emit(event: WebhookEvent): Promise<number> {
    try {
      assertWorkspaceId(event.workspaceId);
      if (!isWebhookEventType(event.type))
        throw new Error(`unknown webhook event type ${String(event.type)}`);
      const scopes = ['workspace', ...(event.keyId ? [`key:${event.keyId}`] : [])];
      const endpoints = await this.c.endpoints.find({
        workspaceId: event.workspaceId,
        scope: { $in: scopes },
        enabled: true,
      });
      const targets = endpoints.filter((e) => e.events.includes(event.type));
      if (!targets.length) return 0;
      const now = this.o.clock.now();
      const eventId = newId('evt');
      const body = JSON.stringify(buildPayload(event, eventId, event.occurredAt ?? now));
      for (const endpoint of targets) {
        const delivery: WebhookDelivery = {
          id: timeOrderedId('dlv', now),
          workspaceId: event.workspaceId,
          endpointId: endpoint.id,
          scope: endpoint.scope,
          eventId,
          eventType: event.type,
          body,
          status: 'pending',
          version: 0,
          nextAttemptAt: now,
          attempts: [],
          createdAt: now,
          updatedAt: now,
          expiresAt: new Date(now.getTime() + this.retentionMs),
        };
        await this.c.deliveries.insert(delivery);
      }
      this.wake();
      return targets.length;
    } catch (err) {
      this.o.logger.error(
        { err: (err as Error).message, event: event?.type, workspaceId: event?.workspaceId },
        'webhook event could not be queued',
      );
      return 0;
    }
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops polling and waits for the deliveries in flight (bounded by the attempt timeout). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.tick;
  }

  /** Claims and attempts up to `concurrency` due deliveries; answers how many were attempted. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim(this.concurrency);
    await Promise.all(claimed.map(({ delivery, token }) => this.attempt(delivery, token)));
    return claimed.length;
  }

  private wake(): void {
    if (!this.running) return;
    if (this.tick) this.again = true;
    else this.schedule(0);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick = this.runLoop().finally(() => {
        this.tick = undefined;
        if (this.running) this.schedule(this.again ? 0 : this.pollIntervalMs);
        this.again = false;
      });
    }, delayMs);
    this.timer.unref?.();
  }

  private async runLoop(): Promise<void> {
    try {
      // Keep going while full batches come back; then rest until the next poll or wake-up.
      while (this.running && (await this.runOnce()) >= this.concurrency) {}
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, 'webhook worker pass failed');
    }
  }

  /**
   * Claims up to `max` due deliveries: pending ones whose time has come, and in-flight ones whose
   * claim lapsed (a worker died mid-attempt). A candidate is won by inserting the claim document
   * `<id>@<version>`: unique-id inserts are atomic on MongoDB and on every compatible server,
   * whereas conditional updates are not on all of them (FerretDB 1.x applies findAndModify as a
   * read then a write, so several processes could all "win" one delivery). The winner then moves
   * the delivery to in_flight with a conditional update on that same version.
   */
  private async claim(max: number): Promise<{ delivery: WebhookDelivery; token: string }[]> {
    const now = this.o.clock.now();
    const candidates = [
      ...(await this.c.deliveries.find(
        { status: 'pending', nextAttemptAt: { $lte: now } },
        { sort: { field: 'nextAttemptAt', order: 'asc' }, limit: max * 2 },
      )),
      ...(await this.c.deliveries.find({ status: 'in_flight', lockedUntil: { $lte: now } }, { limit: max })),
    ];
    const won: { delivery: WebhookDelivery; token: string }[] = [];
    for (const d of candidates) {
      if (won.length >= max) break;
      try {
        await this.c.claims.insert({
          id: `${d.id}@${d.version}`,
          createdAt: now,
          expiresAt: new Date(now.getTime() + 86_400_000),
        });
      } catch (err) {
        if (err instanceof DuplicateKeyError) continue; // another worker has it
        throw err;
      }
      const token = newId('lock');
      const delivery = await this.c.deliveries.update(
        { id: d.id, version: d.version, status: d.status },
        {
          set: {
            status: 'in_flight',
            version: d.version + 1,
            lockedUntil: new Date(now.getTime() + this.lockMs),
            lockedBy: token,
            updatedAt: now,
          },
        },
      );
      if (delivery) won.push({ delivery, token });
    }
    return won;
  }

  private async attempt(d: WebhookDelivery, token: string): Promise<void> {
    try {
      const endpoint = await this.c.endpoints.get(d.endpointId);
      if (!endpoint?.enabled) {
        await this.finish(d, token, {
          status: 'cancelled',
          lastError: endpoint ? 'endpoint disabled' : 'endpoint removed',
        });
        return;
      }
      const n = d.attempts.length + 1;
      const outcome = await this.post(d, endpoint);
      const now = this.o.clock.now();
      const retry = outcome.retryable && !d.manualRetry && n < this.policy.maxAttempts;
      const attempt: DeliveryAttempt = {
        n,
        at: outcome.at,
        durationMs: outcome.durationMs,
        ...(outcome.statusCode !== undefined ? { statusCode: outcome.statusCode } : {}),
        ...(outcome.error ? { error: outcome.error } : {}),
        result: outcome.ok ? 'succeeded' : retry ? 'retry' : 'failed',
      };
      if (retry) {
        const delay = retryDelayMs(n, this.policy, outcome.retryAfterMs, this.o.random);
        attempt.retryAt = new Date(now.getTime() + delay);
      }
      this.o.logger.info(
        {
          delivery: d.id,
          endpoint: endpoint.id,
          event: d.eventType,
          attempt: n,
          statusCode: outcome.statusCode,
          durationMs: outcome.durationMs,
          result: attempt.result,
        },
        outcome.ok ? 'webhook delivered' : 'webhook attempt failed',
      );
      try {
        this.o.onAttempt?.({
          event: d.eventType,
          result: attempt.result,
          statusCode: outcome.statusCode,
          durationMs: outcome.durationMs,
        });
      } catch {
        // a metrics hook must never cost a delivery its bookkeeping
      }
      await this.finish(d, token, {
        status: outcome.ok ? 'succeeded' : retry ? 'pending' : 'failed',
        attempts: [...d.attempts, attempt],
        ...(attempt.retryAt ? { nextAttemptAt: attempt.retryAt } : {}),
        ...(outcome.error ? { lastError: outcome.error } : {}),
      });
    } catch (err) {
      // Storage trouble mid-attempt: the claim lapses after lockMs and the delivery is retried.
      this.o.logger.error(
        { err: (err as Error).message, delivery: d.id },
        'webhook delivery bookkeeping failed',
      );
    }
  }

  private async finish(d: WebhookDelivery, token: string, set: Partial<WebhookDelivery>): Promise<void> {
    const now = this.o.clock.now();
    const done = set.status !== 'pending';
    const updated = await this.c.deliveries.update(
      { id: d.id, status: 'in_flight', lockedBy: token },
      {
        set: { ...set, version: d.version + 1, updatedAt: now, ...(done ? { completedAt: now } : {}) },
        unset: ['lockedUntil', 'lockedBy', 'manualRetry'],
      },
    );
    if (!updated)
      this.o.logger.warn({ delivery: d.id }, 'webhook delivery claim lapsed before its result was saved');
  }

  private async post(d: WebhookDelivery, endpoint: WebhookEndpoint): Promise<SendOutcome> {
    const at = this.o.clock.now();
    const url = checkEndpointUrl(endpoint.url, { allowInsecure: this.o.allowInsecureUrls });
    if (!url.ok) {
      return { ok: false, retryable: false, at, durationMs: 0, error: `refused URL: ${url.reason}` };
    }
    let secrets: string[];
    try {
      secrets = signingSecrets(endpoint, this.o.secretBox, this.o.clock);
    } catch (err) {
      // A missing or wrong WEBHOOK_SECRETS_KEY: retry, an operator can fix the configuration.
      this.o.logger.error(
        { endpoint: endpoint.id, err: (err as Error).message },
        'cannot open webhook signing secret',
      );
      return { ok: false, retryable: true, at, durationMs: 0, error: 'signing secret unavailable' };
    }
    return sendSigned({
      fetch: this.fetch,
      url: url.url,
      body: d.body,
      headers: {
        [SIGNATURE_HEADER]: signatureHeader(secrets, Math.floor(at.getTime() / 1000), d.body),
        'Gatehouse-Event': d.eventType,
        'Gatehouse-Event-Id': d.eventId,
        'Gatehouse-Delivery': d.id,
      },
      timeoutMs: this.timeoutMs,
      clock: this.o.clock,
    });
  }
}
