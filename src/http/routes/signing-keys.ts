import { z } from 'zod';
import { operatorWorkspaceId } from '../../accounts/bootstrap.ts';
import type { Container } from '../../container.ts';
import { MAX_SIGNING_KEY_RETENTION, MIN_SIGNING_KEY_RETENTION } from '../../oidc/resources.ts';
import type { StoredSigningKey } from '../../oidc/signing-keys.ts';
import { ApiRouter } from '../api.ts';
import { requireRole, requireUser } from '../auth.ts';
import { httpErrors } from '../errors.ts';

/**
 * Signing keys for the operator: owners of the bootstrap workspace (recorded by id at bootstrap,
 * whatever its slug is now; see accounts/bootstrap.ts) list them and
 * rotate them. A rotation publishes new keys and signs with them at once in this process; other
 * processes pick them up on their next poll (SIGNING_KEYS_POLL_MS). Retired keys stay in the
 * JWKS for `retain_seconds`, by default and at least the longest token lifetime.
 */
type Deps = Pick<Container, 'openapi' | 'workspaces' | 'signingKeyRing' | 'storage'>;

const rotateBody = z.strictObject({
  retain_seconds: z
    .number()
    .int('expected a whole number of seconds')
    .min(
      MIN_SIGNING_KEY_RETENTION,
      `must be at least ${MIN_SIGNING_KEY_RETENTION} (the longest token lifetime)`,
    )
    .max(MAX_SIGNING_KEY_RETENTION, `must be at most ${MAX_SIGNING_KEY_RETENTION}`)
    .optional(),
});

function keyJson(k: StoredSigningKey) {
  return {
    kid: k.kid,
    alg: k.alg,
    status: k.retiredAt ? 'retired' : 'signing',
    created_at: k.createdAt.toISOString(),
    retired_at: k.retiredAt ? k.retiredAt.toISOString() : null,
    remove_after: k.removeAfter ? k.removeAfter.toISOString() : null,
  };
}

async function requireOperator(c: Deps, ctx: Parameters<typeof requireUser>[0]): Promise<void> {
  requireUser(ctx);
  // By the id recorded at bootstrap, never by slug (any workspace may take `default` once free).
  const ws = await operatorWorkspaceId(c);
  if (!ws)
    throw httpErrors.forbidden(
      'Only owners of the bootstrap workspace manage signing keys; use `gatehouse keys rotate-signing`.',
    );
  await requireRole(c, ctx, ws, ['owner']);
}

export function signingKeyRoutes(c: Deps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'admin';
  const denied = {
    401: 'not signed in',
    403: 'not an owner of the bootstrap workspace',
    404: 'not a member',
  };

  api.route(
    {
      method: 'get',
      path: '/api/v1/admin/signing-keys',
      summary: 'The published signing keys (public data only): which sign, which are retired and until when',
      tag,
      auth: 'user',
      responses: { 200: '{ keys: [...] }', ...denied },
    },
    async (ctx) => {
      await requireOperator(c, ctx);
      await c.signingKeyRing.refresh();
      ctx.body = { keys: c.signingKeyRing.current().map(keyJson) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/admin/signing-keys/rotate',
      summary: 'Publish new signing keys and sign with them; old keys stay published for retain_seconds',
      tag,
      auth: 'user',
      body: rotateBody,
      responses: { 200: '{ keys: [...] } after the rotation', 400: 'invalid input', ...denied },
    },
    async (ctx, { body }) => {
      await requireOperator(c, ctx);
      const keys = await c.signingKeyRing.rotate(body.retain_seconds ?? MIN_SIGNING_KEY_RETENTION);
      ctx.body = { keys: keys.map(keyJson) };
    },
  );

  return api;
}
