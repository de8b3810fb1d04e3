import { randomUUID } from 'node:crypto';
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

/** Tags each request with an id (the caller's X-Request-Id when well-formed) and logs its outcome. */
export function requestLog(logger: Logger, metrics: Metrics): Middleware {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = (ctx as { routerPath?: string }).routerPath ?? routeFamily(ctx.path);
      metrics.observeRequest(ctx.method, route, ctx.status, seconds);
      const level = ctx.status >= 500 ? 'error' : 'info';
      // Built only when it will be written (a busy server usually logs at warn).
      if (logger.isLevelEnabled(level)) {
        logger[level](
          {
            requestId,
            method: ctx.method,
            path: ctx.path,
            status: ctx.status,
            ms: Math.round(seconds * 1000),
            ip: ctx.ip,
          },
          'request',
        );
      }
    }
  };
}

/** Bounded label values for metrics: unknown paths must not create new series. */
function routeFamily(path: string): string {
  if (path.startsWith('/api/')) return '/api/*';
  if (path.startsWith('/interaction/')) return '/interaction/*';
  return [
    '/token',
    '/jwks',
    '/auth',
    '/me',
    '/token/introspection',
    '/token/revocation',
    '/session/end',
  ].includes(path) || path.startsWith('/.well-known/')
    ? path
    : 'other';
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
      const e = toAppError(err);
      if (e.status >= 500) logger.error({ err, requestId: ctx.state.requestId }, 'request failed');
      ctx.status = e.status;
      for (const [k, v] of Object.entries(e.headers)) ctx.set(k, v);
      ctx.body = { error: e.code, message: e.message, ...e.extra };
    }
  };
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
