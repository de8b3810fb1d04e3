import type { Context } from 'koa';
import { z } from 'zod';
import type { User } from '../../accounts/model.ts';
import type { AuthRateLimits } from '../../auth/rate-limits.ts';
import type { Container } from '../../container.ts';
import type { Workspace } from '../../workspaces/model.ts';
import { ApiRouter } from '../api.ts';
import { requireUser } from '../auth.ts';
import { AppError, httpErrors } from '../errors.ts';

/**
 * The login API (DESIGN.md "Accounts and the login API"): email + password → an access token and
 * a refresh token for one of the user's workspaces; refresh (rotating; a replayed refresh token
 * revokes its whole family); logout; `/me`. Tokens come from the one token service (`c.tokens`,
 * src/oidc/tokens.ts), the same that OIDC flows use: same JWKS, same revocation path.
 *
 * Each endpoint is a list of small steps: rate limits → credentials → workspace → tokens.
 */

/** The part of the token service (src/oidc/tokens.ts) the login API uses. */
export interface LoginTokens {
  issueForUser(input: { userId: string; workspaceId: string; scopes?: string[] }): Promise<TokenAnswer>;
  refresh(refreshToken: string): Promise<TokenAnswer>;
  revokeRefreshToken(refreshToken: string): Promise<void>;
}

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  token_type: 'Bearer';
}

type Deps = Pick<Container, 'openapi' | 'accounts' | 'workspaces'> & {
  tokens: LoginTokens;
  authLimits: AuthRateLimits;
};

const WWW_AUTHENTICATE = { 'WWW-Authenticate': 'Bearer realm="gatehouse"' };

export const loginErrors = {
  // One answer for unknown email, wrong password, account without a password, disabled account.
  invalidCredentials: () =>
    new AppError(
      401,
      'invalid_credentials',
      'The email address or password is not right.',
      {},
      WWW_AUTHENTICATE,
    ),
  noWorkspace: () =>
    new AppError(
      403,
      'no_workspace',
      'This account is not a member of any workspace yet; ask an admin to add it.',
    ),
  passwordNotAllowed: () =>
    new AppError(
      403,
      'sign_in_method_not_allowed',
      'This workspace does not allow signing in with a password; use its single sign-on.',
    ),
  accountGone: () =>
    httpErrors.unauthorized('This account is disabled or no longer exists.', 'invalid_token'),
};

const loginBody = z.strictObject({
  // Not checked as an email here: a malformed one gets the same answer (and the same argon2 work)
  // as an unknown one, and it still counts against its rate-limit bucket.
  email: z.string().min(1, 'must not be empty').max(320, 'must be at most 320 characters'),
  password: z.string().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters'),
  workspace: z
    .string()
    .min(1, 'must not be empty')
    .max(100, 'must be at most 100 characters')
    .optional()
    .describe('a workspace id (ws_...) or slug; default: your first workspace'),
});

const refreshBody = z.strictObject({
  refresh_token: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters'),
});

/** RFC 6749 §5.1: token answers are never cached. */
function answerTokens(ctx: Context, pair: TokenAnswer): void {
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  ctx.body = {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_in: pair.expires_in,
    token_type: 'Bearer',
  };
}

const allowsPassword = (ws: Workspace) => ws.settings.signInMethods.includes('password');

/** The workspace the tokens are for: the one asked for (id or slug), else the first that allows passwords. */
async function chooseWorkspace(deps: Deps, user: User, requested: string | undefined): Promise<Workspace> {
  const mine = await deps.workspaces.listForUser(user.id);
  if (requested !== undefined) {
    const hit = mine.find((m) => m.workspace.id === requested || m.workspace.slug === requested);
    // Not a member answers like no such workspace: nobody learns which workspaces exist.
    if (!hit) throw httpErrors.notFound('workspace');
    if (!allowsPassword(hit.workspace)) throw loginErrors.passwordNotAllowed();
    return hit.workspace;
  }
  if (mine.length === 0) throw loginErrors.noWorkspace();
  const usable = mine.find((m) => allowsPassword(m.workspace));
  if (!usable) throw loginErrors.passwordNotAllowed();
  return usable.workspace;
}

/** Token-service 401s carry WWW-Authenticate like every 401 of /api/v1. */
function with401Header(err: unknown): unknown {
  if (err instanceof AppError && err.status === 401 && !err.headers['WWW-Authenticate']) {
    return new AppError(err.status, err.code, err.message, err.extra, {
      ...err.headers,
      ...WWW_AUTHENTICATE,
    });
  }
  return err;
}

export function authRoutes(deps: Deps): ApiRouter {
  const api = new ApiRouter(deps.openapi);
  const tag = 'auth';

  api.route(
    {
      method: 'post',
      path: '/api/v1/auth/login',
      summary:
        'Sign in with email and password: an access token (JWT, lifetime from the workspace setting, 4 h by ' +
        'default) and a rotating refresh token for one of your workspaces. Limits: 60/min per IP, 15/min per email.',
      tag,
      auth: 'none',
      body: loginBody,
      responses: {
        200: '{ access_token, refresh_token, expires_in, token_type: "Bearer" }',
        400: 'invalid input',
        401: 'invalid_credentials: unknown email, wrong password or disabled account (one answer for all)',
        403: 'no_workspace, or sign_in_method_not_allowed for the workspace',
        404: 'the workspace asked for is not one of yours',
        429: 'rate_limited, with Retry-After',
      },
    },
    async (ctx, { body }) => {
      await deps.authLimits.login(ctx.ip, body.email);
      const user = await deps.accounts.authenticate(body.email, body.password);
      if (!user) throw loginErrors.invalidCredentials();
      const workspace = await chooseWorkspace(deps, user, body.workspace);
      answerTokens(ctx, await deps.tokens.issueForUser({ userId: user.id, workspaceId: workspace.id }));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/auth/refresh',
      summary:
        'A new token pair for a refresh token. Refresh tokens rotate: each works once, and presenting a spent ' +
        'one again revokes every token of its sign-in. Limits: 30/min per token, 100/min per IP.',
      tag,
      auth: 'none',
      body: refreshBody,
      responses: {
        200: '{ access_token, refresh_token, expires_in, token_type: "Bearer" }',
        400: 'invalid input',
        401: 'invalid_grant: unknown, expired, revoked or reused refresh token',
        429: 'rate_limited, with Retry-After',
      },
    },
    async (ctx, { body }) => {
      await deps.authLimits.refresh(ctx.ip, body.refresh_token);
      // The token service also refuses (and revokes) a grant whose user was disabled or removed
      // from the workspace since sign-in.
      const pair = await deps.tokens.refresh(body.refresh_token).catch((err: unknown) => {
        throw with401Header(err);
      });
      answerTokens(ctx, pair);
    },
  );

  api.route(
    {
      method: 'post',
      path: '/api/v1/auth/logout',
      summary: 'Sign out: revokes the refresh token and every token of its sign-in (idempotent)',
      tag,
      auth: 'none',
      body: refreshBody,
      responses: { 204: 'signed out (also for an unknown or already revoked token)', 400: 'invalid input' },
    },
    async (ctx, { body }) => {
      await deps.tokens.revokeRefreshToken(body.refresh_token);
      ctx.status = 204;
    },
  );

  api.route(
    {
      method: 'get',
      path: '/api/v1/me',
      summary: 'The signed-in user, the workspace of this token, and every membership',
      tag,
      auth: 'user',
      responses: {
        200: '{ user, workspace_id, memberships: [...] }',
        401: 'not signed in',
        403: 'an API key',
      },
    },
    async (ctx) => {
      const principal = requireUser(ctx);
      const user = await deps.accounts.getUser(principal.userId);
      if (!user || user.disabled) throw loginErrors.accountGone();
      const mine = await deps.workspaces.listForUser(user.id);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        user: {
          id: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name ?? null,
          created_at: user.createdAt.toISOString(),
        },
        workspace_id: principal.workspaceId ?? null,
        memberships: mine.map(({ workspace, role }) => ({
          workspace_id: workspace.id,
          slug: workspace.slug,
          name: workspace.name,
          role,
        })),
      };
    },
  );

  return api;
}
