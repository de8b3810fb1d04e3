import type { Context } from 'koa';
import { z } from 'zod';
import type { Container } from '../../container.ts';
import type { DeliveryView, EndpointTarget, EndpointView } from '../../webhooks/index.ts';
import {
  deliveryListQuerySchema,
  endpointInputSchema,
  MAX_ROTATION_GRACE_SECONDS,
} from '../../webhooks/service.ts';
import { ApiRouter } from '../api.ts';
import { type Acting, type ActingRule, actingIn } from '../auth.ts';
import { httpErrors } from '../errors.ts';
import { workspaceParam, workspaceQuery } from './keys.ts';

/**
 * Webhook endpoints, one per API key (`/api/v1/keys/{id}/webhook`) and one per workspace
 * (`/api/v1/webhook`), and the delivery log. The signing secret is in the answer that creates the
 * endpoint or rotates its secret only. Owners/admins and keys holding `webhooks:manage` change
 * them; `webhooks:read` reads them.
 */
type Deps = Pick<Container, 'openapi' | 'apiKeys' | 'workspaces' | 'audit' | 'webhooks'>;

const READ: ActingRule = { anyScope: ['webhooks:read', 'webhooks:manage'] };
const MANAGE: ActingRule = { anyScope: ['webhooks:manage'] };

function endpointJson(e: EndpointView) {
  return {
    id: e.id,
    workspace_id: e.workspaceId,
    key_id: e.keyId,
    url: e.url,
    events: e.events,
    enabled: e.enabled,
    previous_secret_expires_at: e.previousSecretExpiresAt?.toISOString() ?? null,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

function deliveryJson(d: DeliveryView) {
  return {
    id: d.id,
    endpoint_id: d.endpointId,
    key_id: d.keyId,
    event_id: d.eventId,
    event_type: d.eventType,
    status: d.status,
    payload: d.payload,
    attempts: d.attempts,
    next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
    last_error: d.lastError,
    created_at: d.createdAt.toISOString(),
    completed_at: d.completedAt?.toISOString() ?? null,
  };
}

const errors = {
  401: 'no or bad credentials',
  403: 'insufficient_scope or too low a role',
  404: 'no such key, endpoint or delivery in the workspace',
};

export function webhookRoutes(c: Deps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'webhooks';
  const svc = () => c.webhooks.service;

  /** The target of the path, after checking that a key target is a key of the acting workspace. */
  async function targetOf(a: Acting, params: Record<string, string>): Promise<EndpointTarget> {
    if (params.id === undefined) return { kind: 'workspace' };
    await c.apiKeys.get(a.workspaceId, params.id);
    return { kind: 'key', keyId: params.id };
  }
  const audit = (ctx: Context, a: Acting, action: string, target: EndpointTarget) =>
    void c.audit.record({
      workspaceId: a.workspaceId,
      actor: a.caller.actor,
      action,
      target: { type: 'webhook_endpoint', id: target.kind === 'key' ? target.keyId : 'workspace' },
      outcome: 'success',
      ip: ctx.ip,
    });

  for (const [base, what] of [
    ['/api/v1/keys/:id/webhook', "the key's"],
    ['/api/v1/webhook', "the workspace's"],
  ] as const) {
    api.route(
      {
        method: 'get',
        path: base,
        summary: `${what} webhook endpoint (never its secret)`,
        tag,
        auth: 'user_or_key',
        query: workspaceQuery,
        responses: { 200: 'the endpoint', ...errors },
      },
      async (ctx, { params, query }) => {
        const a = await actingIn(c, ctx, query.workspace_id, READ);
        const e = await svc().get(a.workspaceId, await targetOf(a, params));
        if (!e) throw httpErrors.notFound('webhook endpoint');
        ctx.body = endpointJson(e);
      },
    );

    api.route(
      {
        method: 'put',
        path: base,
        summary: `Create or replace ${what} webhook endpoint: url and events (key.created, key.updated, key.rotated, key.revoked, key.expiring, credits.low)`,
        tag,
        auth: 'user_or_key',
        body: endpointInputSchema,
        query: workspaceQuery,
        responses: {
          200: 'the endpoint (replaced; the secret is unchanged)',
          201: 'the endpoint, with its signing `secret` (shown once)',
          400: 'invalid input or invalid_webhook_url',
          ...errors,
        },
      },
      async (ctx, { params, body, query }) => {
        const a = await actingIn(c, ctx, query.workspace_id, MANAGE);
        const target = await targetOf(a, params);
        const r = await svc().put(a.workspaceId, target, body);
        audit(ctx, a, r.created ? 'webhook.created' : 'webhook.updated', target);
        ctx.status = r.created ? 201 : 200;
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { ...endpointJson(r.endpoint), ...(r.secret ? { secret: r.secret } : {}) };
      },
    );

    api.route(
      {
        method: 'delete',
        path: base,
        summary: `Remove ${what} webhook endpoint`,
        tag,
        auth: 'user_or_key',
        query: workspaceQuery,
        responses: { 204: 'removed', ...errors },
      },
      async (ctx, { params, query }) => {
        const a = await actingIn(c, ctx, query.workspace_id, MANAGE);
        const target = await targetOf(a, params);
        if (!(await svc().remove(a.workspaceId, target))) throw httpErrors.notFound('webhook endpoint');
        audit(ctx, a, 'webhook.deleted', target);
        ctx.status = 204;
      },
    );

    api.route(
      {
        method: 'post',
        path: `${base}/rotate-secret`,
        summary: `A new signing secret for ${what} endpoint; with grace_seconds the old one signs too meanwhile`,
        tag,
        auth: 'user_or_key',
        body: z.strictObject({
          grace_seconds: z.number().int().min(0).max(MAX_ROTATION_GRACE_SECONDS).default(0),
        }),
        query: workspaceQuery,
        responses: {
          200: 'the endpoint, with the new `secret` (shown once)',
          400: 'invalid input',
          ...errors,
        },
      },
      async (ctx, { params, body, query }) => {
        const a = await actingIn(c, ctx, query.workspace_id, MANAGE);
        const target = await targetOf(a, params);
        const r = await svc().rotateSecret(a.workspaceId, target, { graceSeconds: body.grace_seconds });
        audit(ctx, a, 'webhook.secret_rotated', target);
        ctx.set('Cache-Control', 'no-store');
        ctx.body = { ...endpointJson(r.endpoint), secret: r.secret };
      },
    );

    api.route(
      {
        method: 'get',
        path: `${base}/deliveries`,
        summary:
          base === '/api/v1/webhook'
            ? 'The delivery log of every endpoint of the workspace, newest first (attempts, status codes, errors)'
            : "The delivery log of the key's endpoint, newest first",
        tag,
        auth: 'user_or_key',
        query: deliveryListQuerySchema.extend(workspaceParam),
        responses: { 200: '{ data: [...], next_cursor }', 400: 'invalid filter', ...errors },
      },
      async (ctx, { params, query }) => {
        const { workspace_id, ...q } = query;
        const a = await actingIn(c, ctx, workspace_id, READ);
        const target = params.id === undefined ? undefined : await targetOf(a, params);
        const page = await svc().listDeliveries(a.workspaceId, q, target);
        ctx.body = { data: page.items.map(deliveryJson), next_cursor: page.nextCursor };
      },
    );
  }

  api.route(
    {
      method: 'get',
      path: '/api/v1/webhook/deliveries/:deliveryId',
      summary: 'One delivery of the workspace, with every attempt',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: 'the delivery', ...errors },
    },
    async (ctx, { params, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, READ);
      const d = await svc().getDelivery(a.workspaceId, params.deliveryId!);
      if (!d) throw httpErrors.notFound('delivery');
      ctx.body = deliveryJson(d);
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/webhook/deliveries/:deliveryId/redeliver',
      summary: 'Send a failed or cancelled delivery again',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: 'the delivery, pending again', 409: 'the delivery is still in progress', ...errors },
    },
    async (ctx, { params, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, MANAGE);
      const d = await svc().redeliver(a.workspaceId, params.deliveryId!);
      if (!d) throw httpErrors.notFound('delivery');
      ctx.body = deliveryJson(d);
    },
  );

  return api;
}
