import { randomUUID } from 'node:crypto';
import type { mongo } from 'mongoose';

/**
 * Per-document mutual exclusion for servers whose findAndModify is not atomic (FerretDB 1.x runs
 * it as a find followed by an update: FerretDB issue 2168), so that the port's promise "update is
 * atomic: the filter is the precondition" holds there too. A lock is a document with a unique
 * `_id`; inserting it is atomic on every server. A holder that dies leaves a lock that lapses
 * after `leaseMs` and is then taken over.
 */
export class DocumentLocks {
  constructor(
    private readonly locks: mongo.Collection<{ _id: string; owner: string; until: Date }>,
    private readonly leaseMs = 5000,
    private readonly waitMs = 10_000,
  ) {}

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    const giveUpAt = Date.now() + this.waitMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.locks.insertOne({ _id: key, owner, until: new Date(Date.now() + this.leaseMs) });
        break;
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
        await this.locks.deleteOne({ _id: key, until: { $lt: new Date() } }); // a dead holder's lease
        if (Date.now() > giveUpAt) throw new Error(`timed out waiting for the lock on ${key}`);
        await sleep(Math.min(2 ** Math.min(attempt, 6), 50) * (0.5 + Math.random()));
      }
    }
    try {
      return await fn();
    } finally {
      await this.locks.deleteOne({ _id: key, owner });
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
