import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { refusal, serializeVerification } from '../../api-keys/errors.ts';
import { changeTag, FEED_MAX_LOOKBACK_MS } from '../../api-keys/feed.ts';
import { verifyKeyBody } from '../../api-keys/schemas.ts';
import type { VerifyRequest } from '../../api-keys/verify.ts';
import type { Container } from '../../container.ts';
import { ApiRouter, parseRequest, requestBody } from '../api.ts';
import { auditRefusal } from '../auth.ts';
import { httpErrors } from '../errors.ts';

/**
 * For resource servers: `POST /api/v1/keys/verify` (the key in the body is the credential, so no
 * other authentication) and the revocation feed the middleware polls. Both are registered before
 * `/api/v1/keys/:id` so that their paths are not read as key ids. The app answers verify through
 * `verifyLane`, ahead of its routers; the route documents the operation (and answers the same).
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

/**
 * `POST /api/v1/keys/verify` ahead of the general API stack. Resource servers call it on each of
 * their own requests, and it needs none of that stack: no credential header is read (the key in
 * the body is the credential), no router has to match. Same body parser, schema and answer as the
 * route below, which documents the operation.
 */
export function verifyLane(c: VerifyRouteDeps, parseBody: Middleware): Middleware {
  return (ctx, next) =>
    ctx.method === 'POST' && ctx.path === VERIFY_PATH
      ? parseBody(ctx, () =>
          answerVerification(c, ctx, parseRequest(verifyKeyBody, requestBody(ctx), 'body')),
        )
      : next();
}

/** Always 200: `status` tells the resource server what to answer its own caller. */
async function answerVerification(c: VerifyRouteDeps, ctx: Context, req: VerifyRequest): Promise<void> {
  const result = await c.apiKeys.verifyRequest({ ...req, ip: req.ip ?? ctx.ip });
  ctx.set('Cache-Control', 'no-store');
  if (!result.valid) {
    if ('keyId' in result) auditRefusal(c, ctx, result.workspaceId, result.keyId, result.reason);
    const refused = refusal(result);
    ctx.body = { ...serializeVerification(result, refused), status: refused.status };
    return;
  }
  ctx.body = { ...serializeVerification(result), status: 200 };
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
    (ctx, { body }) => answerVerification(c, ctx, body),
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
        200: '{ changes: [{ tag, changed_at }], until, complete }',
        400: 'since too old or malformed',
      },
    },
    async (ctx, { query }) => {
      const now = c.clock.now().getTime();
      ctx.set('Cache-Control', 'no-store');
      if (query.since === undefined) {
        ctx.body = { changes: [], until: now, complete: true };
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
      };
    },
  );

  return api;
}
