import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { refusal, serializeVerification } from '../../api-keys/errors.ts';
import { changeTag, FEED_MAX_LOOKBACK_MS } from '../../api-keys/feed.ts';
import { verifyKeyBody } from '../../api-keys/schemas.ts';
import type { VerifyRequest } from '../../api-keys/verify.ts';
import type { Container } from '../../container.ts';
import { ApiRouter, parseRequest, requestBody } from '../api.ts';
import { auditRefusal, type Caller, callerOf } from '../auth.ts';
import { readPlainJson } from '../body.ts';
import { httpErrors } from '../errors.ts';
import { clientIp, errorAnswer, requestDone, requestIdOf } from '../middleware.ts';

/**
 * For resource servers: `POST /api/v1/keys/verify` (the key in the body is the credential, so no
 * other authentication) and the revocation feed the middleware polls. Both are registered before
 * `/api/v1/keys/:id` so that their paths are not read as key ids. Verify is answered by
 * `verifyFastLane` (Node's server, plain JSON bodies) or `verifyLane` (the Koa app, any other
 * body), both ahead of authentication and the routers; the route documents the operation (and
 * answers the same).
 */
export type VerifyRouteDeps = Pick<Container, 'openapi' | 'apiKeys' | 'audit' | 'clock'>;

const since = z
  .union([
    z
      .string()
      .regex(/^\d{1,15}$/)
      .transform(Number),
    z.iso.datetime({ offset: true }).transform(Date.parse),
  ])
  .describe('milliseconds since the epoch, or an ISO 8601 date');

export const VERIFY_PATH = '/api/v1/keys/verify';

export type VerifyLaneDeps = VerifyRouteDeps &
  Pick<Container, 'logger' | 'metrics'> & {
    config: Pick<Container['config'], 'trustProxy'>;
  };

/**
 * `POST /api/v1/keys/verify` with a plain JSON body (UTF-8, length given, not compressed: what
 * resource servers send), answered straight from Node's HTTP server, ahead of Koa. Resource
 * servers call it on each of their own requests, and under load Koa's context and middleware
 * cost more than the verification itself. It keeps the API's contract: the request id (echoed or
 * made), the request metrics and log line, the body parser and schema of the route, the error
 * shape; it reads no credential header (the key in the body is the credential). Every other
 * request, other bodies to this path included, goes to `rest` (the Koa app, where `verifyLane`
 * answers them alike).
 */
export function verifyFastLane(c: VerifyLaneDeps, rest: RequestListener): RequestListener {
  return (req, res) => {
    const body = req.method === 'POST' && req.url === VERIFY_PATH ? readPlainJson(req) : null;
    if (!body) return rest(req, res);
    answerFast(c, req, res, body).catch((err: unknown) => {
      // Only a bug gets here (errors of the request are answered): never an unhandled rejection.
      c.logger.error({ err }, 'verify answer failed');
      res.destroy();
    });
  };
}

async function answerFast(
  c: VerifyLaneDeps,
  req: IncomingMessage,
  res: ServerResponse,
  body: Promise<unknown>,
): Promise<void> {
  const start = process.hrtime.bigint();
  const requestId = requestIdOf(req.headers['x-request-id']);
  const caller: Caller = {
    ip: clientIp(req, c.config.trustProxy),
    userAgent: req.headers['user-agent'] || undefined,
  };
  let status = 200;
  let answer: Record<string, unknown>;
  let headers: Record<string, string> = {};
  try {
    answer = await verificationAnswer(c, parseRequest(verifyKeyBody, await body, 'body'), caller);
  } catch (err) {
    ({ status, headers, body: answer } = errorAnswer(c.logger, err, requestId));
  }
  const text = JSON.stringify(answer);
  res.writeHead(status, {
    ...headers,
    'X-Request-Id': requestId,
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
  requestDone(c.logger, c.metrics, {
    requestId,
    method: 'POST',
    path: VERIFY_PATH,
    route: VERIFY_PATH,
    status,
    start,
    ip: () => caller.ip,
  });
}

/**
 * The same operation inside the Koa app, ahead of authentication and the routers, for the bodies
 * the fast lane hands over (compressed, chunked, form...): same body parser, schema and answer.
 */
export function verifyLane(c: VerifyRouteDeps, parseBody: Middleware): Middleware {
  return (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== VERIFY_PATH) return next();
    ctx.set('Cache-Control', 'no-store');
    return parseBody(ctx, () => answer(c, ctx, parseRequest(verifyKeyBody, requestBody(ctx), 'body')));
  };
}

async function answer(c: VerifyRouteDeps, ctx: Context, req: VerifyRequest): Promise<void> {
  (ctx as { routerPath?: string }).routerPath = VERIFY_PATH;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await verificationAnswer(c, req, callerOf(ctx));
}

/** Always 200: `status` tells the resource server what to answer its own caller. */
async function verificationAnswer(
  c: VerifyRouteDeps,
  req: VerifyRequest,
  caller: Caller,
): Promise<Record<string, unknown>> {
  const result = await c.apiKeys.verifyRequest({ ...req, ip: req.ip ?? caller.ip });
  if (result.valid) return { ...serializeVerification(result), status: 200 };
  if ('keyId' in result) auditRefusal(c, caller, result.workspaceId, result.keyId, result.reason);
  const refused = refusal(result);
  return { ...serializeVerification(result, refused), status: refused.status };
}

export function verifyRoutes(c: VerifyRouteDeps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'api-keys';

  api.route(
    {
      method: 'post',
      path: VERIFY_PATH,
      summary:
        'Verify an API key for a resource server: valid (workspace, key id, scopes, rate limit, credits) or the ' +
        'precise reason (key_invalid, key_revoked, key_expired, insufficient_scope, rate_limited, credits_exhausted). ' +
        'Always 200: `status` is what the resource server should answer its caller.',
      tag,
      auth: 'none',
      body: verifyKeyBody,
      responses: { 200: '{ valid, ... } or { valid: false, error, status, ... }', 400: 'invalid input' },
    },
    (ctx, { body }) => answer(c, ctx, body),
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/keys/revocations',
      summary:
        'Keys revoked, rotated or edited since a time, as opaque tags (see the middleware): resource servers ' +
        'that cache verifications drop those entries. Without `since`: only the server time to start from.',
      tag,
      auth: 'none',
      query: z.strictObject({ since: since.optional() }),
      responses: {
        200:
          '{ changes: [{ tag, changed_at }], until, complete, record_cache_ms }: record_cache_ms is how long a ' +
          'Gatehouse process may still answer for a changed key from its own cache (MongoDB; 0: never)',
        400: 'since too old or malformed',
      },
    },
    async (ctx, { query }) => {
      const now = c.clock.now().getTime();
      ctx.set('Cache-Control', 'no-store');
      if (query.since === undefined) {
        ctx.body = { changes: [], until: now, complete: true, record_cache_ms: c.apiKeys.staleAtMostMs };
        return;
      }
      if (!Number.isFinite(query.since) || query.since < now - FEED_MAX_LOOKBACK_MS) {
        throw httpErrors.badRequest(
          `since: at most ${FEED_MAX_LOOKBACK_MS / 1000} seconds back; drop your cache and start again.`,
          { field: 'since' },
        );
      }
      const page = await c.apiKeys.changedSince(new Date(query.since), 1000);
      ctx.body = {
        changes: page.changes.map((r) => ({ tag: changeTag(r.id), changed_at: r.updatedAt.getTime() })),
        // Incomplete page: the reader continues from the last change it got.
        until: page.complete || !page.last ? now : page.last.getTime(),
        complete: page.complete,
        record_cache_ms: c.apiKeys.staleAtMostMs,
      };
    },
  );

  return api;
}
