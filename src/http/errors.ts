import type { z } from 'zod';

/**
 * The one error type of Gatehouse's own API. Protocol errors (/token, /auth...) stay
 * oidc-provider's; everything under /api answers `{"error": code, "message": ...}` plus `extra`.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Error tables per domain build on these. */
export const httpErrors = {
  badRequest: (message: string, extra?: Record<string, unknown>) =>
    new AppError(400, 'invalid_request', message, extra),
  unauthorized: (message = 'Authentication required.', code = 'unauthorized') =>
    new AppError(
      401,
      code,
      message,
      {},
      { 'WWW-Authenticate': `Bearer realm="gatehouse", error="invalid_token"` },
    ),
  forbidden: (message: string, extra?: Record<string, unknown>) =>
    new AppError(403, 'forbidden', message, extra),
  notFound: (what = 'resource') => new AppError(404, 'not_found', `No such ${what}.`),
  conflict: (message: string, code = 'conflict') => new AppError(409, code, message),
  tooManyRequests: (retryAfterSeconds: number, message = 'Too many requests; try again later.') =>
    new AppError(
      429,
      'rate_limited',
      message,
      { retry_after: retryAfterSeconds },
      { 'Retry-After': String(retryAfterSeconds) },
    ),
  unavailable: (message: string) => new AppError(503, 'unavailable', message),
};

/** 400 naming the first invalid field of a zod error: `field: why`, with `field` for clients. */
export function invalidInput(error: z.ZodError): AppError {
  const issue = error.issues[0]!;
  const field = issue.path.join('.');
  return httpErrors.badRequest(field ? `${field}: ${issue.message}` : issue.message, field ? { field } : {});
}

/** A value a service takes, validated; 400 `invalid_request` (see invalidInput) when it is not. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw invalidInput(r.error);
  return r.data;
}

/** One named value, validated: 400 `invalid_request` with `field: why` and `field`. */
export function checkField<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new AppError(400, 'invalid_request', `${field}: ${r.error.issues[0]!.message}`, { field });
}
