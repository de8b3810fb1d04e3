import { z } from 'zod';
import { emailSchema } from '../../accounts/email.ts';
import { type Membership, ROLES, type Role, type User } from '../../accounts/model.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../accounts/password.ts';
import { accountErrors, userNameSchema } from '../../accounts/service.ts';
import type { Container } from '../../container.ts';
import type { Workspace } from '../../workspaces/model.ts';
import { MANAGERS, memberChangeRefusal } from '../../workspaces/policy.ts';
import { workspaceErrors } from '../../workspaces/service.ts';
import { nameSchema, settingsJson, settingsPatchSchema, slugSchema } from '../../workspaces/settings.ts';
import { ApiRouter } from '../api.ts';
import { requireUser, workspaceRole } from '../auth.ts';
import { AppError, httpErrors } from '../errors.ts';

/**
 * The management API of workspaces and their members. Any signed-in user may create a workspace
 * (and owns it); members read theirs; owners and admins manage members and settings; only owners
 * touch the owner role. Someone else's workspace answers 404, whatever its id or slug.
 */
type Deps = Pick<Container, 'openapi' | 'accounts' | 'workspaces'>;

const role = z.enum(ROLES as [Role, ...Role[]]);
const ALL: Role[] = ['owner', 'admin', 'member'];

const createBody = z.strictObject({
  name: nameSchema,
  slug: slugSchema.optional(),
  settings: settingsPatchSchema.optional(),
});

const patchBody = z
  .strictObject({
    name: nameSchema.optional(),
    slug: slugSchema.optional(),
    settings: settingsPatchSchema.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'expected at least one of name, slug, settings');

const addMemberBody = z.strictObject({
  email: emailSchema,
  role: role.default('member'),
  name: userNameSchema.optional(),
  password: z
    .string()
    .min(PASSWORD_MIN_LENGTH, `must be at least ${PASSWORD_MIN_LENGTH} characters`)
    .max(PASSWORD_MAX_LENGTH, `must be at most ${PASSWORD_MAX_LENGTH} characters`)
    .optional(),
});

const changeRoleBody = z.strictObject({ role });

function workspaceJson(ws: Workspace, myRole: Role) {
  return {
    id: ws.id,
    name: ws.name,
    slug: ws.slug,
    role: myRole,
    settings: settingsJson(ws.settings),
    created_at: ws.createdAt.toISOString(),
    updated_at: ws.updatedAt.toISOString(),
  };
}

function memberJson(m: Membership, user: User | undefined) {
  return {
    user_id: m.userId,
    email: user?.email ?? null,
    name: user?.name ?? null,
    role: m.role,
    created_at: m.createdAt.toISOString(),
  };
}

function refuse(actor: Role, change: Parameters<typeof memberChangeRefusal>[1]): void {
  const why = memberChangeRefusal(actor, change);
  if (why) throw httpErrors.forbidden(why, { role: actor });
}

export function workspaceRoutes(c: Deps): ApiRouter {
  const api = new ApiRouter(c.openapi);
  const tag = 'workspaces';

  api.route(
    {
      method: 'post',
      path: '/api/v1/workspaces',
      summary: 'Create a workspace; the caller becomes its owner',
      tag,
      auth: 'user',
      body: createBody,
      responses: { 201: 'the workspace', 400: 'invalid input', 401: 'not signed in', 409: 'slug_taken' },
    },
    async (ctx, { body }) => {
      const user = requireUser(ctx);
      const ws = await c.workspaces.create(body, user.userId);
      ctx.status = 201;
      ctx.set('Location', `/api/v1/workspaces/${ws.id}`);
      ctx.body = workspaceJson(ws, 'owner');
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/workspaces',
      summary: "The caller's workspaces, with the caller's role in each",
      tag,
      auth: 'user',
      responses: { 200: '{ workspaces: [...] }', 401: 'not signed in' },
    },
    async (ctx) => {
      const user = requireUser(ctx);
      const mine = await c.workspaces.listForUser(user.userId);
      ctx.body = { workspaces: mine.map((x) => workspaceJson(x.workspace, x.role)) };
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/workspaces/:id',
      summary: 'A workspace (by id or slug) the caller is a member of',
      tag,
      auth: 'user',
      responses: { 200: 'the workspace', 401: 'not signed in', 404: 'no such workspace, or not a member' },
    },
    async (ctx, { params }) => {
      const { ws, me } = await workspaceRole(c, ctx, params.id!, ALL);
      ctx.body = workspaceJson(ws, me.role);
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/api/v1/workspaces/:id',
      summary: 'Rename a workspace, change its slug or settings (owners and admins)',
      tag,
      auth: 'user',
      body: patchBody,
      responses: {
        200: 'the workspace',
        400: 'invalid input',
        401: 'not signed in',
        403: 'the caller is a member only',
        404: 'no such workspace, or not a member',
        409: 'slug_taken',
      },
    },
    async (ctx, { params, body }) => {
      const { ws, me } = await workspaceRole(c, ctx, params.id!, MANAGERS);
      ctx.body = workspaceJson(await c.workspaces.update(ws.id, body), me.role);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/workspaces/:id/members',
      summary: 'The members of a workspace and their roles',
      tag,
      auth: 'user',
      responses: {
        200: '{ members: [...] }',
        401: 'not signed in',
        404: 'no such workspace, or not a member',
      },
    },
    async (ctx, { params }) => {
      const { ws } = await workspaceRole(c, ctx, params.id!, ALL);
      const members = await c.workspaces.members(ws.id);
      const users = new Map((await c.accounts.getUsers(members.map((m) => m.userId))).map((u) => [u.id, u]));
      ctx.body = { members: members.map((m) => memberJson(m, users.get(m.userId))) };
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/workspaces/:id/members',
      summary:
        'Add a user by email with a role; an unknown email gets a new account (with the password, if given). ' +
        "An existing account's password is never changed here.",
      tag,
      auth: 'user',
      body: addMemberBody,
      responses: {
        201: 'the member; `user_created` says whether the account is new',
        400: 'invalid input',
        401: 'not signed in',
        403: 'the caller may not grant this role',
        404: 'no such workspace, or not a member',
        409: 'already_member, or account_managed_elsewhere (another workspace set its password)',
      },
    },
    async (ctx, { params, body }) => {
      const { ws, me } = await workspaceRole(c, ctx, params.id!, MANAGERS);
      refuse(me.role, { kind: 'add', role: body.role });
      let user = await c.accounts.findByEmail(body.email);
      let created = false;
      if (!user) {
        try {
          user = await c.accounts.createUser({
            email: body.email,
            password: body.password,
            name: body.name,
            ...(body.password !== undefined ? { managedBy: ws.id } : {}),
          });
          created = true;
        } catch (err) {
          // Created meanwhile by someone else: add that account.
          if (!(err instanceof AppError && err.code === 'email_taken')) throw err;
          user = await c.accounts.findByEmail(body.email);
          if (!user) throw err;
        }
      }
      if (user.managedBy && user.managedBy !== ws.id) throw accountErrors.managedElsewhere();
      const m = await c.workspaces.addMember(ws.id, user.id, body.role);
      ctx.status = 201;
      ctx.set('Location', `/api/v1/workspaces/${ws.id}/members/${user.id}`);
      ctx.body = { ...memberJson(m, user), user_created: created };
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/api/v1/workspaces/:id/members/:userId',
      summary: "Change a member's role (owners and admins; only owners grant or revoke owner)",
      tag,
      auth: 'user',
      body: changeRoleBody,
      responses: {
        200: 'the member',
        400: 'invalid input',
        401: 'not signed in',
        403: 'the caller may not make this change',
        404: 'no such workspace or member',
        409: 'last_owner: the only owner cannot be demoted',
      },
    },
    async (ctx, { params, body }) => {
      const { ws, me } = await workspaceRole(c, ctx, params.id!, MANAGERS);
      const target = await c.workspaces.membership(ws.id, params.userId!);
      if (!target) throw workspaceErrors.noSuchMember();
      refuse(me.role, { kind: 'change', from: target.role, to: body.role });
      const m = await c.workspaces.changeRole(ws.id, target.userId, body.role);
      ctx.body = memberJson(m, (await c.accounts.getUser(m.userId)) ?? undefined);
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/api/v1/workspaces/:id/members/:userId',
      summary: 'Remove a member (owners and admins; only owners remove owners; anyone may leave)',
      tag,
      auth: 'user',
      responses: {
        204: 'removed',
        401: 'not signed in',
        403: 'the caller may not remove this member',
        404: 'no such workspace or member',
        409: 'last_owner: the only owner cannot leave',
      },
    },
    async (ctx, { params }) => {
      const { ws, me } = await workspaceRole(c, ctx, params.id!, ALL);
      const target = await c.workspaces.membership(ws.id, params.userId!);
      if (!target) throw workspaceErrors.noSuchMember();
      refuse(me.role, { kind: 'remove', role: target.role, self: target.userId === me.userId });
      await c.workspaces.removeMember(ws.id, target.userId);
      ctx.status = 204;
    },
  );

  return api;
}
