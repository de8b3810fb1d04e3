import type { Context } from 'koa';
import { z } from 'zod';
import type { Container } from '../../container.ts';
import {
  newPresetInput,
  type Preset,
  presetPatch,
  RISKS,
  type Risk,
  type ScopeDefinition,
  scopeName,
} from '../../workspaces/scopes.ts';
import { ApiRouter } from '../api.ts';
import { type ActingRule, actingIn } from '../auth.ts';
import { workspaceParam, workspaceQuery } from './keys.ts';

/**
 * The workspace's scopes catalogue and presets: everyone who manages or reads keys sees them
 * (with each scope's risk and what it unlocks); owners and admins, and keys holding
 * `settings:write`, add, edit and retire scopes and manage the workspace's own presets.
 */
type Deps = Pick<Container, 'openapi' | 'apiKeys' | 'workspaces' | 'audit'>;

const READ: ActingRule = {
  roles: ['owner', 'admin', 'member'],
  anyScope: ['api_keys:read', 'api_keys:manage', 'settings:read', 'settings:write'],
};
const ADMIN: ActingRule = { anyScope: ['settings:write'] };

const capBody = z
  .strictObject({
    limit: z.number().int().min(1).max(1e9),
    window_seconds: z
      .number()
      .int()
      .min(1)
      .max(31 * 86_400),
  })
  .transform((c) => ({ limit: c.limit, windowSeconds: c.window_seconds }));
const scopeFields = {
  description: z.string().trim().min(1).max(300),
  risk: z.enum(RISKS),
  unlocks: z.array(z.string().trim().min(1).max(200)).max(50),
  cap: capBody.nullable(),
};
const newScopeBody = z.strictObject({
  name: scopeName,
  ...scopeFields,
  unlocks: scopeFields.unlocks.optional(),
  cap: scopeFields.cap.optional(),
});
const scopePatchBody = z
  .strictObject(scopeFields)
  .partial()
  .refine((b) => Object.keys(b).length > 0, 'expected at least one of description, risk, unlocks, cap');

const RANK: Record<Risk, number> = { low: 0, medium: 1, high: 2 };

function scopeJson(d: ScopeDefinition) {
  return {
    name: d.name,
    description: d.description,
    risk: d.risk,
    unlocks: d.unlocks,
    cap: d.cap ? { limit: d.cap.limit, window_seconds: d.cap.windowSeconds } : null,
    retired: d.retired,
    source: d.source,
  };
}

/** A preset with its risk (the highest of its scopes) and what it unlocks, as the creation screen shows it. */
function presetJson(p: Preset, catalogue: Map<string, ScopeDefinition>) {
  const scopes = p.scopes.map((n) => catalogue.get(n));
  const risk = scopes.reduce<Risk>((r, d) => (d && RANK[d.risk] > RANK[r] ? d.risk : r), 'low');
  return {
    name: p.name,
    description: p.description,
    source: p.source,
    risk,
    scopes: p.scopes,
    unlocks: [...new Set(scopes.flatMap((d) => d?.unlocks ?? []))],
  };
}

function audit(c: Deps, ctx: Context, a: Awaited<ReturnType<typeof actingIn>>, action: string, id: string) {
  void c.audit.record({
    workspaceId: a.workspaceId,
    actor: a.caller.actor,
    action,
    target: { type: action.split('.')[0]!, id },
    outcome: 'success',
    ip: ctx.ip,
  });
}

export function scopeRoutes(c: Deps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'scopes';
  const catalog = () => c.apiKeys.scopes;
  const errors = {
    401: 'no or bad credentials',
    403: 'insufficient_scope or too low a role',
    404: 'no such workspace (or not a member), scope or preset',
  };

  api.route(
    {
      method: 'get',
      path: '/api/v1/scopes',
      summary:
        "The workspace's scopes catalogue: name, description, risk (low/medium/high), what it unlocks, cap",
      tag,
      auth: 'user_or_key',
      query: z.strictObject({ ...workspaceParam, include_retired: z.enum(['true', 'false']).optional() }),
      responses: { 200: '{ scopes: [...] }', ...errors },
    },
    async (ctx, { query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, READ);
      const all = await catalog().list(a.workspaceId);
      ctx.body = { scopes: all.filter((d) => query.include_retired === 'true' || !d.retired).map(scopeJson) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/scopes',
      summary: 'Add a custom scope to the workspace catalogue',
      tag,
      auth: 'user_or_key',
      body: newScopeBody,
      query: workspaceQuery,
      responses: { 201: 'the scope', 400: 'invalid input', 409: 'scope_exists', ...errors },
    },
    async (ctx, { body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, ADMIN);
      const d = await catalog().addScope(a.workspaceId, body);
      audit(c, ctx, a, 'scope.created', d.name);
      ctx.status = 201;
      ctx.body = scopeJson(d);
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/api/v1/scopes/:name',
      summary: 'Edit a scope (built-in or custom): description, risk, unlocks, cap',
      tag,
      auth: 'user_or_key',
      body: scopePatchBody,
      query: workspaceQuery,
      responses: { 200: 'the scope', 400: 'invalid input', ...errors },
    },
    async (ctx, { params, body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, ADMIN);
      const d = await catalog().editScope(a.workspaceId, params.name!, body);
      audit(c, ctx, a, 'scope.updated', d.name);
      ctx.body = scopeJson(d);
    },
  );

  for (const [verb, retired] of [
    ['retire', true],
    ['restore', false],
  ] as const) {
    api.route(
      {
        method: 'post',
        path: `/api/v1/scopes/:name/${verb}`,
        summary:
          verb === 'retire'
            ? 'Retire a scope: no longer grantable; keys holding it keep it until edited'
            : 'Make a retired scope grantable again',
        tag,
        auth: 'user_or_key',
        query: workspaceQuery,
        responses: { 200: 'the scope', ...errors },
      },
      async (ctx, { params, query }) => {
        const a = await actingIn(c, ctx, query.workspace_id, ADMIN);
        const d = retired
          ? await catalog().retireScope(a.workspaceId, params.name!)
          : await catalog().restoreScope(a.workspaceId, params.name!);
        audit(c, ctx, a, retired ? 'scope.retired' : 'scope.restored', d.name);
        ctx.body = scopeJson(d);
      },
    );
  }

  api.route(
    {
      method: 'get',
      path: '/api/v1/presets',
      summary:
        'Presets (built-in read-only, content-agent, full-access, and the workspace own), with risk, scopes and what they unlock',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 200: '{ presets: [...] }', ...errors },
    },
    async (ctx, { query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, READ);
      const catalogue = new Map((await catalog().list(a.workspaceId)).map((d) => [d.name, d]));
      const presets = await catalog().presets(a.workspaceId);
      ctx.body = { presets: presets.map((p) => presetJson(p, catalogue)) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/presets',
      summary: 'Add a workspace preset (e.g. admin, readonly, upload)',
      tag,
      auth: 'user_or_key',
      body: newPresetInput,
      query: workspaceQuery,
      responses: {
        201: 'the preset',
        400: 'invalid input or unknown scopes',
        409: 'preset_exists',
        ...errors,
      },
    },
    async (ctx, { body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, ADMIN);
      const p = await catalog().createPreset(a.workspaceId, body);
      audit(c, ctx, a, 'preset.created', p.name);
      const catalogue = new Map((await catalog().list(a.workspaceId)).map((d) => [d.name, d]));
      ctx.status = 201;
      ctx.body = presetJson(p, catalogue);
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/api/v1/presets/:name',
      summary: "Change a workspace preset's description or scopes",
      tag,
      auth: 'user_or_key',
      body: presetPatch,
      query: workspaceQuery,
      responses: { 200: 'the preset', 400: 'invalid input', ...errors },
    },
    async (ctx, { params, body, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, ADMIN);
      const p = await catalog().updatePreset(a.workspaceId, params.name!, body);
      audit(c, ctx, a, 'preset.updated', p.name);
      const catalogue = new Map((await catalog().list(a.workspaceId)).map((d) => [d.name, d]));
      ctx.body = presetJson(p, catalogue);
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/api/v1/presets/:name',
      summary: 'Delete a workspace preset (keys created from it keep their scopes)',
      tag,
      auth: 'user_or_key',
      query: workspaceQuery,
      responses: { 204: 'deleted', ...errors },
    },
    async (ctx, { params, query }) => {
      const a = await actingIn(c, ctx, query.workspace_id, ADMIN);
      await catalog().deletePreset(a.workspaceId, params.name!);
      audit(c, ctx, a, 'preset.deleted', params.name!);
      ctx.status = 204;
    },
  );

  return api;
}
