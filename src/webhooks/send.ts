import { performance } from 'node:perf_hooks';
import type { Clock } from '../storage/port.ts';
import { isRetryable, parseRetryAfter } from './backoff.ts';

export interface SendOutcome {
  ok: boolean;
  /** Worth another attempt (network error, timeout, 408, 429, 5xx). */
  retryable: boolean;
  at: Date;
  durationMs: number;
  statusCode?: number;
  error?: string;
  retryAfterMs?: number;
}

const USER_AGENT = 'Gatehouse-Webhooks/1.0';

/**
 * One POST of a signed delivery. The timeout covers the whole exchange; redirects are never
 * followed (a 3xx could point anywhere, including inside our own network); the response body is
 * discarded unread, so a receiver cannot make us buffer anything.
 */
export async function sendSigned(o: {
  fetch: typeof globalThis.fetch;
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  clock: Clock;
}): Promise<SendOutcome> {
  const at = o.clock.now();
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), o.timeoutMs);
  try {
    const res = await o.fetch(o.url, {
      method: 'POST',
      redirect: 'manual',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...o.headers },
      body: o.body,
    });
    await res.body?.cancel().catch(() => {});
    const statusCode = res.status;
    if (statusCode >= 200 && statusCode < 300) {
      return { ok: true, retryable: false, at, durationMs: elapsed(), statusCode };
    }
    const redirect = statusCode >= 300 && statusCode < 400;
    return {
      ok: false,
      retryable: isRetryable(statusCode),
      at,
      durationMs: elapsed(),
      statusCode,
      error: redirect ? `HTTP ${statusCode} (redirects are not followed)` : `HTTP ${statusCode}`,
      retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), o.clock.now()),
    };
  } catch (err) {
    const error = controller.signal.aborted ? `timed out after ${o.timeoutMs} ms` : networkError(err);
    return { ok: false, retryable: true, at, durationMs: elapsed(), error };
  } finally {
    clearTimeout(timer);
  }
}

/** A short, secret-free description of a fetch failure (undici puts the reason in `cause`). */
function networkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const text = cause?.code ?? cause?.message ?? (err as Error).message ?? 'network error';
  return `network error: ${String(text).slice(0, 200)}`;
}
