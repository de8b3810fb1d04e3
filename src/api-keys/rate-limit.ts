import {
  type Clock,
  type Collection,
  type CollectionSpec,
  type Storage,
  updateOrCreate,
} from '../storage/port.ts';

/**
 * Fixed-window counters on the storage port, shared by every Gatehouse process on one store.
 * A hit is one atomic conditional increment (`count < limit`), so concurrent hits can never
 * admit more than `limit` per window; the first hit of a window inserts the counter (a racing
 * insert loses on the unique id and retries the increment). Windows are aligned to the epoch.
 */
export interface WindowState {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetAt: Date;
  /** Whole seconds until the window resets (0 when allowed). */
  retryAfter: number;
}

interface CounterDoc {
  id: string;
  count: number;
  expiresAt: Date;
}

export const countersSpec: CollectionSpec = { name: 'api_key_counters', expiresField: 'expiresAt' };

/** The window `now` falls in. Pure. */
export function windowOf(now: Date, windowSeconds: number): { start: number; end: number } {
  const size = windowSeconds * 1000;
  const start = Math.floor(now.getTime() / size) * size;
  return { start, end: start + size };
}

/** Seconds to wait, rounded up, never below 1 (a Retry-After of 0 invites a hot loop). Pure. */
export function retryAfterSeconds(now: Date, resetAtMs: number): number {
  return Math.max(1, Math.ceil((resetAtMs - now.getTime()) / 1000));
}

export class WindowCounters {
  private readonly counters: Collection<CounterDoc>;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
  ) {
    this.counters = storage.collection<CounterDoc>(countersSpec);
  }

  async hit(bucket: string, limit: number, windowSeconds: number): Promise<WindowState> {
    const now = this.clock.now();
    const { start, end } = windowOf(now, windowSeconds);
    const id = `${bucket}@${start}`;
    const resetAt = new Date(end);
    const allowed = (count: number): WindowState => ({
      allowed: true,
      limit,
      remaining: limit - count,
      resetAt,
      retryAfter: 0,
    });
    const counted = await updateOrCreate(
      this.counters,
      id,
      { count: { $lt: limit } },
      { inc: { count: 1 } },
      () => ({ id, count: 1, expiresAt: resetAt }),
    );
    if (!counted)
      return { allowed: false, limit, remaining: 0, resetAt, retryAfter: retryAfterSeconds(now, end) };
    return allowed(counted.count);
  }

  /** The state of a bucket without counting a hit. */
  async peek(bucket: string, limit: number, windowSeconds: number): Promise<WindowState> {
    const now = this.clock.now();
    const { start, end } = windowOf(now, windowSeconds);
    const count = (await this.counters.get(`${bucket}@${start}`))?.count ?? 0;
    const remaining = Math.max(0, limit - count);
    return {
      allowed: remaining > 0,
      limit,
      remaining,
      resetAt: new Date(end),
      retryAfter: remaining > 0 ? 0 : retryAfterSeconds(now, end),
    };
  }
}
