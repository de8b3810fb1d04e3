/**
 * The retry policy of webhook deliveries, as pure functions (unit-tested beside).
 *
 * After failed attempt n (1-based) the next try waits base·2^(n-1), capped at maxDelayMs, with
 * "equal jitter": a random point in [d/2, d], so many endpoints failing at once do not retry in
 * lockstep, and a delay is never shorter than half the schedule. A Retry-After from the receiver
 * (429/503) is honoured: the wait is never shorter than asked, up to maxDelayMs.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included; after the last failure the delivery is `failed`. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 30_000,
  maxDelayMs: 3_600_000,
};

/** The un-jittered delay after failed attempt `n`. */
export function scheduledDelayMs(n: number, policy: RetryPolicy): number {
  const exp = policy.baseDelayMs * 2 ** Math.max(0, Math.min(n - 1, 30));
  return Math.min(exp, policy.maxDelayMs);
}

export function retryDelayMs(
  n: number,
  policy: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const d = scheduledDelayMs(n, policy);
  const jittered = Math.round(d / 2 + random() * (d / 2));
  if (retryAfterMs === undefined) return jittered;
  return Math.min(Math.max(jittered, retryAfterMs), Math.max(policy.maxDelayMs, jittered));
}

/** Retry-After as delay-seconds or an IMF-fixdate (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  if (v.length > 64 || !/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v))
    return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** Worth another try: network errors and timeouts (no status), 408, 429 and 5xx. */
export function isRetryable(statusCode: number | undefined): boolean {
  if (statusCode === undefined) return true;
  return statusCode === 408 || statusCode === 429 || statusCode >= 500;
}
