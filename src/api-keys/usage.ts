/**
 * Coalesced "last used" tracking: verifications only note the latest use of each key in memory;
 * a timer writes what was noted every `intervalMs`, so a busy key costs at most one write per
 * interval instead of one per request. `flush()` writes now (shutdown, tests); `pending()` lets
 * reads of this process show uses not yet written.
 */
export interface Use {
  at: Date;
  ip: string | null;
}

export class UsageTracker {
  private buffer = new Map<string, Use>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (keyId: string, use: Use) => Promise<void>,
    private readonly intervalMs: number,
    private readonly onError: (keyId: string, err: unknown) => void = () => {},
  ) {}

  record(keyId: string, use: Use): void {
    const prev = this.buffer.get(keyId);
    if (!prev || prev.at.getTime() <= use.at.getTime()) this.buffer.set(keyId, use);
    if (!this.timer) {
      this.timer = setInterval(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  pending(keyId: string): Use | undefined {
    return this.buffer.get(keyId);
  }

  /** How many keys wait for a write. */
  get size(): number {
    return this.buffer.size;
  }

  flush(): Promise<void> {
    // Chained, so two flushes never write one key out of order.
    this.flushing = this.flushing.then(async () => {
      const batch = this.buffer;
      this.buffer = new Map();
      if (batch.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
      await Promise.all(
        [...batch].map(([keyId, use]) =>
          this.write(keyId, use).catch((err: unknown) => this.onError(keyId, err)),
        ),
      );
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
