import { describe, expect, it } from 'vitest';
import { retryAfterSeconds, windowOf } from './rate-limit.ts';

describe('fixed windows', () => {
  it('aligns windows to the epoch', () => {
    expect(windowOf(new Date(125_500), 60)).toEqual({ start: 120_000, end: 180_000 });
    expect(windowOf(new Date(180_000), 60)).toEqual({ start: 180_000, end: 240_000 });
    expect(windowOf(new Date(86_400_000 + 5), 86_400)).toEqual({ start: 86_400_000, end: 172_800_000 });
  });

  it('answers Retry-After in whole seconds, rounded up, at least 1', () => {
    expect(retryAfterSeconds(new Date(125_500), 180_000)).toBe(55);
    expect(retryAfterSeconds(new Date(179_999), 180_000)).toBe(1);
    expect(retryAfterSeconds(new Date(180_000), 180_000)).toBe(1);
  });
});
