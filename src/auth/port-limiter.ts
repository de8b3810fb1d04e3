import { createRequire } from 'node:module';
import { RateLimiterRes, type RateLimiterStoreAbstract } from 'rate-limiter-flexible';
import {
  type Clock,
  type Collection,
  type CollectionSpec,
  DuplicateKeyError,
  type Storage,
} from '../storage/port.ts';

/**
 * rate-limiter-flexible on Gatehouse's storage port, so that every process on one store shares
 * the counts, on either store, with one implementation.
 *
 * Why not RateLimiterMongo on the mongoose connection plus RateLimiterMemory for the embedded
 * store: that is two code paths (and two behaviours to test), RateLimiterMongo keeps its own
 * collection and indexes outside the port (and its upsert-with-$setOnInsert is exactly the kind of
 * query MongoDB-compatible servers differ on), and it would not use the injected clock. The port's
 * atomic conditional `update` is all a counter needs, which is what rate-limiter-flexible's
 * `RateLimiterStoreAbstract` (the base of all its store limiters) asks a store to provide:
 * `_upsert`, `_get`, `_delete`. The library keeps its logic: consume/penalty/reward/block,
 * `RateLimiterRes`, in-memory blocking of keys already over the limit.
 *
 * Counters are fixed windows that start at a key's first hit (the library's semantics):
 *   1. add the points to a live counter (`expiresAt > now`), atomically;
 *   2. else restart an expired counter (`expiresAt <= now`), atomically: one racer wins, the
 *      others go back to 1;
 *   3. else insert a new counter: a racing insert loses on the id and goes back to 1.
 * The collection has no `expiresField` on purpose: the port hides expired documents from every
 * read, so step 2 could not see them and step 3 would collide with them until a sweep. Expired
 * counters are deleted here instead, at most once a minute per process.
 */

// The base class is the library's documented extension point but index.js does not export it;
// its typings do (types.d.ts). One deep import, here only.
const require = createRequire(import.meta.url);
const StoreAbstract =
  require('rate-limiter-flexible/lib/RateLimiterStoreAbstract.js') as typeof RateLimiterStoreAbstract;

interface CounterDoc {
  id: string;
  points: number;
  expiresAt: Date;
}

export const rateLimitCountersSpec: CollectionSpec = {
  name: 'auth_rate_limits',
  indexes: [{ fields: ['expiresAt'] }],
};

/** "Never expires" (duration 0 in the library) as a date, so the filters stay plain comparisons. */
const NEVER = new Date(8_640_000_000_000_000);
const SWEEP_EVERY_MS = 60_000;
const ATTEMPTS = 5;

export interface PortRateLimiterOptions {
  storage: Storage;
  clock: Clock;
  keyPrefix: string;
  points: number;
  /** Seconds. */
  duration: number;
  /**
   * Once a key is over the limit, this process answers "limited" from memory until its window
   * ends, without asking the store (the library's `inMemoryBlockOnConsumed`). Sound across
   * processes: it only ever blocks what the shared count already refused.
   */
  blockInMemory?: boolean;
}

export class PortRateLimiter extends StoreAbstract {
  private readonly counters: Collection<CounterDoc>;
  private readonly clock: Clock;
  private nextSweep = 0;

  constructor(options: PortRateLimiterOptions) {
    super({
      storeClient: options.storage,
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.duration,
      ...(options.blockInMemory ? { inMemoryBlockOnConsumed: options.points + 1 } : {}),
    });
    this.counters = options.storage.collection<CounterDoc>(rateLimitCountersSpec);
    this.clock = options.clock;
  }

  /** The library's hook: the stored counter after adding `points` (or setting it, with forceExpire). */
  async _upsert(rlKey: string, points: number, msDuration: number, forceExpire = false): Promise<CounterDoc> {
    const now = this.clock.now();
    this.sweep(now);
    const expiresAt = msDuration > 0 ? new Date(now.getTime() + msDuration) : NEVER;
    if (forceExpire) {
      const doc = { id: rlKey, points, expiresAt };
      await this.counters.put(doc);
      return doc;
    }
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const live = await this.counters.update({ id: rlKey, expiresAt: { $gt: now } }, { inc: { points } });
      if (live) return live;
      const restarted = await this.counters.update(
        { id: rlKey, expiresAt: { $lte: now } },
        { set: { points, expiresAt } },
      );
      if (restarted) return restarted;
      const doc = { id: rlKey, points, expiresAt };
      try {
        await this.counters.insert(doc);
        return doc;
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
      }
    }
    throw new Error(`rate-limit counter ${rlKey} kept changing under us`);
  }

  async _get(rlKey: string): Promise<CounterDoc | null> {
    return this.counters.findOne({ id: rlKey, expiresAt: { $gt: this.clock.now() } });
  }

  async _delete(rlKey: string): Promise<boolean> {
    return (await this.counters.delete({ id: rlKey })) > 0;
  }

  _getRateLimiterRes(_rlKey: string, changedPoints: number, doc: CounterDoc): RateLimiterRes {
    const consumed = doc.points;
    const msBeforeNext =
      doc.expiresAt.getTime() === NEVER.getTime()
        ? -1
        : Math.max(doc.expiresAt.getTime() - this.clock.now().getTime(), 0);
    return new RateLimiterRes(
      Math.max(this.points - consumed, 0),
      msBeforeNext,
      consumed,
      consumed === changedPoints,
    );
  }

  /** Deletes counters that expired over a window ago; fire and forget (a failure only delays it). */
  private sweep(now: Date): void {
    if (now.getTime() < this.nextSweep) return;
    this.nextSweep = now.getTime() + SWEEP_EVERY_MS;
    const before = new Date(now.getTime() - this.msDuration);
    void this.counters.delete({ expiresAt: { $lte: before } }).catch(() => {});
  }
}
