import { z } from 'zod';
import type { AuditEntry } from '../../audit/model.ts';
import { auditListQuerySchema } from '../../audit/service.ts';
import type { Container } from '../../container.ts';
import { ApiRouter } from '../api.ts';
import { actingIn } from '../auth.ts';
import { workspaceParam } from './keys.ts';

/** The workspace's audit trail (key events, refused uses, admin actions), newest first. */
type Deps = Pick<Container, 'openapi' | 'audit' | 'workspaces'>;

function entryJson(e: AuditEntry) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    action: e.action,
    outcome: e.outcome,
    actor: e.actor,
    target: e.target ?? null,
    ip: e.ip ?? null,
    user_agent: e.userAgent ?? null,
    reason: e.reason ?? null,
  };
}

// Dates stay ISO strings here so the OpenAPI document can describe them; the log parses them.
const isoDate = z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date' }).optional();
const query = auditListQuerySchema.extend({ since: isoDate, until: isoDate, ...workspaceParam });

export function auditRoutes(c: Deps): ApiRouter {
  return new ApiRouter(c.openapi).route(
    {
      method: 'get',
      path: '/api/v1/audit',
      summary: 'The audit trail: who did what, when, from where (filters: action, actor, time; paginated)',
      tag: 'audit',
      auth: 'user_or_key',
      query,
      responses: {
        200: '{ data: [...], next_cursor }',
        400: 'invalid filter',
        401: 'no or bad credentials',
        403: 'insufficient_scope (audit:read) or too low a role',
        404: 'no such workspace',
      },
    },
    async (ctx, { query }) => {
      const { workspace_id, ...filters } = query;
      const a = await actingIn(c, ctx, workspace_id, { anyScope: ['audit:read'] });
      const page = await c.audit.list(a.workspaceId, filters);
      ctx.body = { data: page.items.map(entryJson), next_cursor: page.nextCursor };
    },
  );
}
