import type { Logger } from '../logger.ts';
import { type Clock, DuplicateKeyError, type Storage } from '../storage/port.ts';
import type { WebhookEvent } from './events.ts';
import { webhookCollections } from './store.ts';

/** What the scanner needs from the API-key store ("keys" implements it). */
export interface ExpiringKeysSource {
  /** Active (not revoked) keys whose expiresAt is in (from, to]. */
  findExpiringBetween(
    from: Date,
    to: Date,
  ): Promise<{ id: string; workspaceId: string; expiresAt: Date; name: string }[]>;
}

export interface ExpiryScannerOptions {
  keys: ExpiringKeysSource;
  emit: (event: WebhookEvent) => Promise<number>;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** How long before expiry `key.expiring` goes out (default 3 days). */
  leadTimeMs?: number;
}

export const DEFAULT_EXPIRY_LEAD_MS = 3 * 86_400_000;

/**
 * Emits `key.expiring` once per key and expiry date, `leadTimeMs` before it. The marker id holds
 * the expiry itself, so a key whose expiry is moved gets a fresh notice for the new date. The
 * marker is written before the emit (so two processes scanning at once emit once) and removed
 * again if nothing could be queued, so the next scan tries again.
 */
/** Answers how many keys had a notice queued. */
export async function scanExpiringKeys(o: ExpiryScannerOptions): Promise<number> {
  const markers = webhookCollections(o.storage).markers;
  const lead = o.leadTimeMs ?? DEFAULT_EXPIRY_LEAD_MS;
  const now = o.clock.now();
  const keys = await o.keys.findExpiringBetween(now, new Date(now.getTime() + lead));
  let emitted = 0;
  for (const key of keys) {
    if (typeof key.workspaceId !== 'string' || !key.workspaceId) continue; // never widen a filter
    const expiresAt = new Date(key.expiresAt);
    const markerId = `key.expiring:${key.id}:${expiresAt.getTime()}`;
    try {
      await markers.insert({
        id: markerId,
        createdAt: now,
        // Kept until a little after expiry: past that, the key is no longer "expiring".
        expiresAt: new Date(expiresAt.getTime() + 86_400_000),
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError) continue;
      throw err;
    }
    const queued = await o.emit({
      type: 'key.expiring',
      workspaceId: key.workspaceId,
      keyId: key.id,
      occurredAt: now,
      data: {
        key: { id: key.id, name: key.name, expires_at: expiresAt.toISOString() },
        expires_in_seconds: Math.max(0, Math.round((expiresAt.getTime() - now.getTime()) / 1000)),
      },
    });
    if (queued > 0) emitted++;
    else if (await hasSubscribers(o.storage, key.workspaceId, key.id)) await markers.delete({ id: markerId });
  }
  return emitted;
}

/** Whether a zero from `emit` means "nobody listens" (done) rather than "queueing failed" (retry). */
async function hasSubscribers(storage: Storage, workspaceId: string, keyId: string): Promise<boolean> {
  const endpoints = await webhookCollections(storage).endpoints.find({
    workspaceId,
    scope: { $in: ['workspace', `key:${keyId}`] },
    enabled: true,
  });
  return endpoints.some((e) => e.events.includes('key.expiring'));
}

/** Runs the scan every `intervalMs` (default 15 min) until stopped; errors are logged. */
export function startExpiryScanner(o: ExpiryScannerOptions & { intervalMs?: number }): {
  stop(): Promise<void>;
  runNow(): Promise<number>;
} {
  let running: Promise<number> | undefined;
  const run = () => {
    running ??= scanExpiringKeys(o)
      .catch((err) => {
        o.logger.error({ err: (err as Error).message }, 'key.expiring scan failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void run(), o.intervalMs ?? 15 * 60_000);
  timer.unref?.();
  void run();
  return {
    runNow: run,
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
