import { z } from 'zod';
import { creditAmount } from '../../api-keys/credits.ts';
import type { Container } from '../../container.ts';
import { ApiRouter } from '../api.ts';
import { actingIn } from '../auth.ts';
import { workspaceParam, workspaceQuery } from './keys.ts';

/**
 * The workspace's credit balance: verifications that carry a cost spend it (402 with
 * `credits_remaining: 0` at zero); members and keys holding `credits:read` read it; owners and
 * admins (and keys holding the high-risk `credits:manage`) top it up.
 */
type Deps = Pick<Container, 'openapi' | 'apiKeys' | 'workspaces' | 'audit' | 'config'>;

export function creditRoutes(c: Deps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'credits';
  const errors = {
    401: 'no or bad credentials',
    403: 'insufficient_scope or too low a role',
    404: 'no such workspace',
  };

  api.route(
    {
      method: 'get',
      path: '/api/v1/credits',
      summary: "The workspace's credit balance",
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: '{ workspace_id, credits_remaining, low_threshold }', ...errors },
    },
    async (ctx, { query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, {
        roles: ['owner', 'admin', 'member'],
        anyScope: ['credits:read', 'credits:manage'],
      });
      ctx.body = {
        workspace_id: a.workspaceId,
        credits_remaining: await c.apiKeys.credits.balance(a.workspaceId),
        low_threshold: c.config.apiKeys.creditsLowThreshold,
      };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/credits/top-up',
      summary: "Add credits to the workspace's balance (owners and admins)",
      tag,
      auth: 'user_or_key',
      query: z.strictObject(workspaceParam),
      body: z.strictObject({ amount: creditAmount }),
      responses: { 200: '{ workspace_id, credits_remaining }', 400: 'invalid amount', ...errors },
    },
    async (ctx, { query, body }) => {
      const a = await actingIn(c, ctx, query.workspace_id, { anyScope: ['credits:manage'] });
      const balance = await c.apiKeys.credits.topUp(a.workspaceId, body.amount);
      void c.audit.record({
        workspaceId: a.workspaceId,
        actor: a.caller.actor,
        action: 'credits.topped_up',
        outcome: 'success',
        reason: `+${body.amount}`,
        ip: ctx.ip,
      });
      ctx.body = { workspace_id: a.workspaceId, credits_remaining: balance };
    },
  );

  return api;
}
