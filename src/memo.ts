import type { Clock } from './storage/index.ts';

/**
 * A small time-bounded memo for values read on hot paths (workspace settings and scope catalogues
 * per token request, scope caps per key verification). Bound: a change made elsewhere is seen at
 * most `ttlMs` later (`forget` drops a value changed here). Never used for credentials or
 * revocation state, which are read fresh.
 */
export class Memo<V> {
  private readonly entries = new Map<string, { at: number; value: Promise<V>; settled?: { value: V } }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly load: (key: string) => Promise<V>,
    private readonly max = 10_000,
  ) {}

  get(key: string): Promise<V> {
    const now = this.clock.now().getTime();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    if (this.entries.size >= this.max) this.entries.clear();
    const value = this.load(key);
    const entry: { at: number; value: Promise<V>; settled?: { value: V } } = { at: now, value };
    this.entries.set(key, entry);
    value.then(
      (v) => {
        entry.settled = { value: v };
      },
      () => this.entries.delete(key),
    );
    return value;
  }

  /** The value, when loaded and fresh, without waiting: `get` otherwise. */
  now(key: string): V | Promise<V> {
    const hit = this.entries.get(key);
    if (hit?.settled && this.clock.now().getTime() - hit.at < this.ttlMs) return hit.settled.value;
    return this.get(key);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }
}

/**
 * `f` of a value that may still be loading (what `Memo.now` answers): at once when it is there,
 * so a hot path makes no promise when it needs none; after it loads otherwise.
 */
export function whenReady<T, R>(value: T | Promise<T>, f: (v: T) => R): R | Promise<Awaited<R>> {
  return value instanceof Promise ? (value.then(f) as Promise<Awaited<R>>) : f(value);
}
