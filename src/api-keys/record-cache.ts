import type { ApiKeyRecord } from './model.ts';
import type { ApiKeyRepository } from './repository.ts';

/**
 * A cache of key records on the verification path. Only the record is cached: rate-limit
 * counters and credits are always the store's. Changes made through this process drop their
 * entries at once. Two modes:
 * - the only writer (the embedded store: one process holds its lock): nothing else can change a
 *   key, so the cache is exact and there is nothing to poll;
 * - one of several processes on MongoDB (API_KEY_CACHE_MS, default 1 s; 0: no cache): changes
 *   made through the others are learnt by polling the keys changed since the last poll (every
 *   `pollMs`), and no entry outlives `ttlMs` anyway — so a revocation elsewhere takes effect here
 *   within `pollMs` + one store read, and never later than `ttlMs`.
 */
export interface RecordCacheOptions {
  ttlMs: number;
  now(): number;
  /** How changes made by other processes are learnt; absent: this process is the store's only writer. */
  others?: {
    pollMs: number;
    changedSince(since: Date): Promise<{ changes: { id: string }[]; last: Date | null; complete: boolean }>;
    onError?(err: unknown): void;
  };
}

interface Entry {
  found: { record: ApiKeyRecord; previous: boolean };
  at: number;
}

export class RecordCache {
  private readonly byDigest = new Map<string, Entry>();
  private readonly digestsById = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private since: number | undefined;
  /** Bumped by every forget: a read that overlapped one is not cached (it may predate the change). */
  private epoch = 0;

  constructor(
    private readonly repo: Pick<ApiKeyRepository, 'byDigest'>,
    private readonly o: RecordCacheOptions,
  ) {}

  /** The repository's `byDigest`, answered from the cache while fresh. Misses are not cached. */
  async lookUp(digest: string, now: Date): Promise<{ record: ApiKeyRecord; previous: boolean } | null> {
    this.start();
    const hit = this.byDigest.get(digest);
    const t = this.o.now();
    if (hit && t - hit.at < this.o.ttlMs) return hit.found;
    const epoch = this.epoch;
    const found = await this.repo.byDigest(digest, now);
    // Nothing is kept until the first poll said from when changes are followed.
    if (found && this.since !== undefined && epoch === this.epoch) {
      this.byDigest.set(digest, { found, at: t });
      const set = this.digestsById.get(found.record.id) ?? new Set<string>();
      set.add(digest);
      this.digestsById.set(found.record.id, set);
      if (this.byDigest.size > 50_000) this.clear();
    }
    return found;
  }

  /** How long after a change made elsewhere this cache may still answer with the old record (0: exact). */
  get staleAtMostMs(): number {
    return this.o.others ? this.o.ttlMs : 0;
  }

  /** Drops what is cached of a key (this process changed it). */
  forget(keyId: string): void {
    this.epoch++;
    for (const d of this.digestsById.get(keyId) ?? []) this.byDigest.delete(d);
    this.digestsById.delete(keyId);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private clear(): void {
    this.epoch++;
    this.byDigest.clear();
    this.digestsById.clear();
  }

  private start(): void {
    const others = this.o.others;
    if (!others) {
      this.since ??= this.o.now();
      return;
    }
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(others), others.pollMs);
    this.timer.unref();
    void this.poll(others);
  }

  private polling = false;

  private async poll(others: NonNullable<RecordCacheOptions['others']>): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const startedAt = this.o.now();
      if (this.since === undefined) {
        this.since = startedAt;
        return;
      }
      // A little overlap: a write stamped just before the last poll may have landed just after it.
      const page = await others.changedSince(new Date(this.since - 2000));
      for (const c of page.changes) this.forget(c.id);
      if (!page.complete) this.clear();
      this.since = startedAt;
    } catch (err) {
      // Unknown what changed: cached records go (they would expire by their TTL anyway).
      this.clear();
      others.onError?.(err);
    } finally {
      this.polling = false;
    }
  }
}
