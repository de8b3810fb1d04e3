import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { StorageUnavailableError } from '../storage/index.ts';
import { AppError } from './errors.ts';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The caller's X-Request-Id when well-formed, else a new one. */
export function requestIdOf(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

export interface FinishedRequest {
  requestId: string;
  method: string;
  path: string;
  /** The metrics label: a route pattern or a bounded family, never a raw path. */
  route: string;
  status: number;
  /** process.hrtime.bigint() when the request came in. */
  start: bigint;
  ip(): string;
}

/** Counts a finished request in the metrics and logs it (the line is built only when written). */
export function requestDone(logger: Logger, metrics: Metrics, r: FinishedRequest): void {
  const seconds = Number(process.hrtime.bigint() - r.start) / 1e9;
  metrics.observeRequest(r.method, r.route, r.status, seconds);
  const level = r.status >= 500 ? 'error' : 'info';
  // A busy server usually logs at warn.
  if (logger.isLevelEnabled(level)) {
    logger[level](
      {
        requestId: r.requestId,
        method: r.method,
        path: r.path,
        status: r.status,
        ms: Math.round(seconds * 1000),
        ip: r.ip(),
      },
      'request',
    );
  }
}

/** Tags each request with an id (the caller's X-Request-Id when well-formed) and logs its outcome. */
export function requestLog(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx: Context, next: Next) => {
    const requestId = requestIdOf(ctx.req.headers['x-request-id']);
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      requestDone(logger, metrics, {
        requestId,
        method: ctx.method,
        path: ctx.path,
        route: (ctx as { routerPath?: string }).routerPath ?? routeFamily(ctx.path),
        status: ctx.status,
        start,
        ip: () => ctx.ip,
      });
    }
  };
}

const PROVIDER_ROUTES = new Set([
  '/token',
  '/jwks',
  '/auth',
  '/me',
  '/token/introspection',
  '/token/revocation',
  '/session/end',
  '/request',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
]);

/** Bounded label values for metrics: unknown paths must not create new series. */
export function routeFamily(path: string): string {
  if (path.startsWith('/api/')) return '/api/*';
  if (path.startsWith('/interaction/')) return '/interaction/*';
  return PROVIDER_ROUTES.has(path) ? path : 'other';
}

/** Koa's `ctx.ip`: the first X-Forwarded-For address when the proxy is trusted, else the peer's. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined;
  return (forwarded && String(forwarded).split(',', 1)[0]!.trim()) || req.socket.remoteAddress || '';
}

/**
 * Maps every error under /api to `{"error","message"}` JSON. Unknown errors become a 500 with no
 * detail (logged with the request id); client errors thrown by Koa/body parsing keep their 4xx.
 */
export function apiErrors(logger: Logger): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined && ctx.path.startsWith('/api/')) {
        throw new AppError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}.`);
      }
    } catch (err) {
      if (!ctx.path.startsWith('/api/')) throw err;
      const e = errorAnswer(logger, err, ctx.state.requestId);
      ctx.status = e.status;
      for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
      ctx.body = e.body;
    }
  };
}

/** What the API answers for an error: its status, headers and `{"error","message",...}` body (500s logged). */
export function errorAnswer(
  logger: Logger,
  err: unknown,
  requestId: string,
): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const e = toAppError(err);
  if (e.status >= 500) logger.error({ err, requestId }, 'request failed');
  return { status: e.status, headers: e.headers, body: { error: e.code, message: e.message, ...e.extra } };
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof StorageUnavailableError) {
    return new AppError(
      503,
      'storage_unavailable',
      'The data store is not reachable right now; try again shortly.',
    );
  }
  const status = (err as { status?: number; expose?: boolean }).status;
  if (status && status >= 400 && status < 500) {
    const message = (err as { expose?: boolean }).expose
      ? (err as Error).message
      : 'The request could not be read.';
    const code =
      status === 413 ? 'payload_too_large' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
    return new AppError(status, code, message);
  }
  return new AppError(500, 'internal_error', 'Something went wrong on our side; the error was logged.');
}
