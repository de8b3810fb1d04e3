import type { Context } from 'koa';
import { z } from 'zod';
import { serializeKey } from '../../api-keys/model.ts';
import { createKeyBody, listKeysQuery, rotateKeyBody, updateKeyBody } from '../../api-keys/schemas.ts';
import type { Container } from '../../container.ts';
import { ApiRouter } from '../api.ts';
import { type ActingRule, actingIn } from '../auth.ts';

/**
 * `/api/v1/keys`: create (the secret is in this answer only), list, get, edit, revoke, rotate.
 * The workspace is the caller's (see `actingIn`); owners and admins manage keys, and so do keys
 * holding `api_keys:manage`; `api_keys:read` lists metadata. The key service enforces that
 * nobody grants a scope it does not hold.
 */
export type KeyRouteDeps = Pick<Container, 'openapi' | 'apiKeys' | 'workspaces' | 'audit'>;

export const workspaceParam = {
  workspace_id: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .describe('the workspace (id or slug); default: the workspace of the token or key'),
};
export const workspaceQuery = z.strictObject(workspaceParam);

export const MANAGE_KEYS: ActingRule = { anyScope: ['api_keys:manage'] };
export const READ_KEYS: ActingRule = { anyScope: ['api_keys:read', 'api_keys:manage'] };

const AUTH_ERRORS = {
  401: 'no or bad credentials (WWW-Authenticate says why)',
  403: 'insufficient_scope (with required_scopes), scope_escalation (granting, or revoking/rotating/editing a key, takes every scope the key holds), forbidden (an API key setting a rate_limit or expires_at looser than its own), or too low a role',
  404: 'no such key in the workspace, or not a member of it',
  429: 'the calling key is over its rate limit (Retry-After)',
} as const;

export function keyRoutes(c: KeyRouteDeps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'api-keys';

  api.route(
    {
      method: 'post',
      path: '/api/v1/keys',
      summary:
        'Create an API key: scopes or a preset (or grant_all), live/test, temporary (7 days) or expires_at. ' +
        'The answer carries the full secret once.',
      tag,
      auth: 'user_or_key',
      body: createKeyBody,
      query: workspaceQuery,
      responses: { 201: 'the key, with `secret` (shown once)', 400: 'invalid input', ...AUTH_ERRORS },
    },
    async (ctx, { body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, MANAGE_KEYS);
      const { key, secret } = await c.apiKeys.create(a.workspaceId, body, a.caller);
      ctx.status = 201;
      ctx.set('Location', `/api/v1/keys/${key.id}`);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { ...serializeKey(key), secret };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/keys',
      summary: "The workspace's keys, newest first (metadata only; never a secret)",
      tag,
      auth: 'user_or_key',
      query: listKeysQuery.extend(workspaceParam),
      responses: { 200: '{ data: [...], next_cursor }', 400: 'invalid filter or cursor', ...AUTH_ERRORS },
    },
    async (ctx, { query }) => {
      const { workspace_id, ...filters } = query;
      const a = await actingIn(c, ctx, workspace_id, READ_KEYS);
      const page = await c.apiKeys.list(a.workspaceId, filters);
      ctx.body = { data: page.data.map(serializeKey), next_cursor: page.nextCursor };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/keys/:id',
      summary: 'One key (metadata, status, last use)',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: 'the key', ...AUTH_ERRORS },
    },
    async (ctx, { params, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, READ_KEYS);
      ctx.body = serializeKey(await c.apiKeys.get(a.workspaceId, params.id!));
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/api/v1/keys/:id',
      summary: 'Edit a key: name, scopes (effective on the very next request), expiry, rate limit, metadata',
      tag,
      auth: 'user_or_key',
      body: updateKeyBody,
      query: workspaceQuery,
      responses: { 200: 'the key', 400: 'invalid input', 409: 'key_revoked', ...AUTH_ERRORS },
    },
    async (ctx, { params, body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, MANAGE_KEYS);
      ctx.body = serializeKey(await c.apiKeys.update(a.workspaceId, params.id!, body, a.caller));
    },
  );

  const revoke = async (ctx: Context, id: string, ws?: string) => {
    const a = await actingIn(c, ctx, ws, MANAGE_KEYS);
    ctx.body = serializeKey(await c.apiKeys.revoke(a.workspaceId, id, a.caller));
  };
  api.route(
    {
      method: 'post',
      path: '/api/v1/keys/:id/revoke',
      summary: 'Revoke a key: the next request with it gets 401 (revoking twice answers the same)',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: 'the revoked key', ...AUTH_ERRORS },
    },
    (ctx, { params, query }) => revoke(ctx, params.id!, query.workspace_id),
  );
  api.route(
    {
      method: 'delete',
      path: '/api/v1/keys/:id',
      summary: 'Revoke a key (the same as POST /api/v1/keys/{id}/revoke)',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: 'the revoked key', ...AUTH_ERRORS },
    },
    (ctx, { params, query }) => revoke(ctx, params.id!, query.workspace_id),
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/keys/:id/rotate',
      summary:
        'A new secret for the same key; the old one stops working at once, or after grace_seconds. ' +
        'Of concurrent rotations one wins, the others get 409.',
      tag,
      auth: 'user_or_key',
      body: rotateKeyBody,
      query: workspaceQuery,
      responses: {
        200: 'the key, with the new `secret` (shown once)',
        400: 'invalid input',
        409: 'key_revoked, key_expired, or a concurrent rotation (conflict)',
        ...AUTH_ERRORS,
      },
    },
    async (ctx, { params, body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, MANAGE_KEYS);
      const { key, secret } = await c.apiKeys.rotate(a.workspaceId, params.id!, body, a.caller);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { ...serializeKey(key), secret };
    },
  );

  return api;
}
