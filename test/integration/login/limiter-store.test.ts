/**
 * The rate limiter on the storage port (src/auth/port-limiter.ts), on both stores, with an
 * injected clock: counting, refusing with the time left, restarting an expired window, and two
 * limiters (as two processes would) sharing one count without ever admitting more than the limit.
 */
import { RateLimiterRes } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PortRateLimiter, rateLimitCountersSpec } from '../../../src/auth/port-limiter.ts';
import type { Storage } from '../../../src/storage/port.ts';
import { rejection } from '../../helpers/rejection.ts';
import { type FakeClock, fakeClock, openEmbedded, openMongo } from '../../helpers/stores.ts';

type Opened = { storage: Storage; cleanup(): Promise<void>; uri?: string; db?: string };

const stores: [string, (clock: FakeClock) => Promise<Opened>][] = [
  ['embedded', (clock) => openEmbedded(clock)],
  ['mongo', (clock) => openMongo(clock)],
];

const refusal = (p: Promise<unknown>) => rejection(p, RateLimiterRes);

describe.each(stores)('the rate limiter on the %s store', (name, open) => {
  let clock: FakeClock;
  let opened: Opened;
  const extra: Opened[] = [];

  beforeEach(async () => {
    clock = fakeClock();
    opened = await open(clock);
  });
  afterEach(async () => {
    for (const o of extra.splice(0)) await o.storage.close();
    await opened.cleanup();
  });

  const limiter = (storage: Storage, points = 3, keyPrefix = 'test') =>
    new PortRateLimiter({ storage, clock, keyPrefix, points, duration: 60 });

  it('admits `points` hits per window, then refuses with the time left', async () => {
    const rl = limiter(opened.storage);
    const first = await rl.consume('k');
    expect(first).toMatchObject({
      consumedPoints: 1,
      remainingPoints: 2,
      msBeforeNext: 60_000,
      isFirstInDuration: true,
    });
    clock.advance(10_000);
    expect(await rl.consume('k')).toMatchObject({
      consumedPoints: 2,
      remainingPoints: 1,
      msBeforeNext: 50_000,
    });
    expect(await rl.consume('k')).toMatchObject({ consumedPoints: 3, remainingPoints: 0 });
    clock.advance(5_000);
    const refused = await refusal(rl.consume('k'));
    expect(refused).toMatchObject({ consumedPoints: 4, remainingPoints: 0, msBeforeNext: 45_000 });
    // Another key, and another limiter's key of the same name, have counts of their own.
    expect((await rl.consume('other')).consumedPoints).toBe(1);
    expect((await limiter(opened.storage, 3, 'another').consume('k')).consumedPoints).toBe(1);
    expect(await rl.get('k')).toMatchObject({ consumedPoints: 4 });
  });

  it('starts a new window once the old one expired', async () => {
    const rl = limiter(opened.storage, 2);
    await rl.consume('k');
    await rl.consume('k');
    await refusal(rl.consume('k'));
    clock.advance(60_000);
    expect(await rl.get('k')).toBeNull();
    const fresh = await rl.consume('k');
    expect(fresh).toMatchObject({ consumedPoints: 1, msBeforeNext: 60_000, isFirstInDuration: true });
  });

  it('never admits more than the limit to two limiters (processes) hitting one key at once', async () => {
    let second: Storage = opened.storage;
    if (name === 'mongo') {
      // A second connection, as a second Gatehouse process would have.
      const other = await openMongo(clock, { db: opened.db });
      extra.push(other);
      second = other.storage;
    }
    const a = limiter(opened.storage, 15);
    const b = limiter(second, 15);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).consume('shared@example.com')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(15);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(RateLimiterRes);
    expect(await a.get('shared@example.com')).toMatchObject({ consumedPoints: 24 });
  });

  it('deletes counters that expired a window ago', async () => {
    const rl = limiter(opened.storage);
    const counters = opened.storage.collection<{ id: string }>(rateLimitCountersSpec);
    await rl.consume('old');
    expect(await counters.count({})).toBe(1);
    clock.advance(121_000);
    await rl.consume('new'); // sweeps, in the background
    await expect.poll(() => counters.count({}), { timeout: 5000 }).toBe(1);
    expect(await counters.get('test:old')).toBeNull();
  });

  it('deletes and sets keys through the library', async () => {
    const rl = limiter(opened.storage);
    await rl.consume('k');
    expect(await rl.delete('k')).toBe(true);
    expect(await rl.delete('k')).toBe(false);
    await rl.block('k', 30);
    expect(await refusal(rl.consume('k'))).toMatchObject({ remainingPoints: 0 });
  });
});
