import { createHash } from 'node:crypto';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { emailKey } from '../accounts/email.ts';
import type { Config } from '../config/index.ts';
import { httpErrors } from '../http/errors.ts';
import type { Clock, Storage } from '../storage/port.ts';
import { PortRateLimiter } from './port-limiter.ts';

/**
 * The login API's limits (DESIGN.md "Accounts and the login API"): login 60/min per IP and
 * 15/min per email; refresh 30/min per token and 100/min per IP. Every request counts, whatever
 * its outcome, so the answer never depends on whether the email exists or the password was right.
 * Emails and tokens enter the store only as SHA-256 digests: the counters hold no credentials or
 * addresses. A request over any of its limits gets 429 `rate_limited` with `Retry-After`.
 */
export type AuthRateLimitSettings = Config['authRateLimits'];

function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export class AuthRateLimits {
  private readonly loginIp: PortRateLimiter;
  private readonly loginEmail: PortRateLimiter;
  private readonly refreshToken: PortRateLimiter;
  private readonly refreshIp: PortRateLimiter;

  constructor(
    storage: Storage,
    clock: Clock,
    readonly settings: AuthRateLimitSettings,
  ) {
    const limiter = (keyPrefix: string, points: number) =>
      new PortRateLimiter({
        storage,
        clock,
        keyPrefix,
        points,
        duration: settings.windowSeconds,
        blockInMemory: true,
      });
    this.loginIp = limiter('login_ip', settings.loginPerIp);
    this.loginEmail = limiter('login_email', settings.loginPerEmail);
    this.refreshToken = limiter('refresh_token', settings.refreshPerToken);
    this.refreshIp = limiter('refresh_ip', settings.refreshPerIp);
  }

  /** Counts a login attempt; throws 429 when the IP or the (normalised) email is over its limit. */
  login(ip: string, email: string): Promise<void> {
    return settle([this.loginIp.consume(ip), this.loginEmail.consume(digest(emailKey(email)))]);
  }

  /** Counts a refresh; throws 429 when the IP or this refresh token is over its limit. */
  refresh(ip: string, refreshToken: string): Promise<void> {
    return settle([this.refreshIp.consume(ip), this.refreshToken.consume(digest(refreshToken))]);
  }
}

/**
 * Both buckets are always counted (no short cut that would make one limit leak through the
 * other); a refusal by either wins, with the longest wait. Store failures propagate (503/500).
 */
async function settle(consumes: Promise<RateLimiterRes>[]): Promise<void> {
  const outcomes = await Promise.allSettled(consumes);
  let limited = false;
  let waitMs = 0;
  for (const o of outcomes) {
    if (o.status === 'fulfilled') continue;
    if (!(o.reason instanceof RateLimiterRes)) throw o.reason;
    limited = true;
    waitMs = Math.max(waitMs, o.reason.msBeforeNext);
  }
  if (!limited) return;
  // Whole seconds, never 0: a Retry-After of 0 invites a hot loop.
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  throw httpErrors.tooManyRequests(
    retryAfter,
    `Too many attempts; try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
  );
}
