import { describe, expect, it } from 'vitest';
import {
  DEFAULT_RETRY_POLICY,
  isRetryable,
  parseRetryAfter,
  retryDelayMs,
  scheduledDelayMs,
} from './backoff.ts';

const policy = { maxAttempts: 8, baseDelayMs: 30_000, maxDelayMs: 3_600_000 };

describe('webhook retry backoff', () => {
  it('doubles from the base delay and caps at the maximum', () => {
    const schedule = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => scheduledDelayMs(n, policy));
    expect(schedule).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000,
    ]);
    expect(scheduledDelayMs(1000, policy)).toBe(3_600_000);
    expect(DEFAULT_RETRY_POLICY.maxAttempts).toBeGreaterThan(1);
  });

  it('jitters each delay within [d/2, d]', () => {
    expect(retryDelayMs(3, policy, undefined, () => 0)).toBe(60_000);
    expect(retryDelayMs(3, policy, undefined, () => 0.5)).toBe(90_000);
    expect(retryDelayMs(3, policy, undefined, () => 0.999999)).toBe(120_000);
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(2, policy);
      expect(d).toBeGreaterThanOrEqual(30_000);
      expect(d).toBeLessThanOrEqual(60_000);
    }
  });

  it('honours Retry-After when longer than the schedule, up to the maximum delay', () => {
    expect(retryDelayMs(1, policy, 120_000, () => 0)).toBe(120_000);
    expect(retryDelayMs(1, policy, 1000, () => 0)).toBe(15_000); // shorter asks do not speed us up
    expect(retryDelayMs(1, policy, 10 * 3_600_000, () => 0)).toBe(3_600_000);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = new Date('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('retries network errors, 408, 429 and 5xx only', () => {
    expect(isRetryable(undefined)).toBe(true);
    for (const s of [408, 429, 500, 502, 503, 504]) expect(isRetryable(s)).toBe(true);
    for (const s of [301, 400, 401, 403, 404, 410, 422]) expect(isRetryable(s)).toBe(false);
  });
});
