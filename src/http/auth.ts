import type { Context, Middleware, Next } from 'koa';
import type { Membership, Role } from '../accounts/model.ts';
import { verificationError } from '../api-keys/errors.ts';
import { isWellFormed, KEY_PATTERN } from '../api-keys/format.ts';
import { KEY_ID_RE } from '../api-keys/hash.ts';
import type { VerifyKeyInput } from '../api-keys/schemas.ts';
import type { VerifyResult } from '../api-keys/verify.ts';
import type { AuditEventInput } from '../audit/model.ts';
import { FIRST_PARTY_CLIENT_ID } from '../oidc/client-lookup.ts';
import type { Workspace } from '../workspaces/model.ts';
import type { WorkspaceService } from '../workspaces/service.ts';
import { AppError, httpErrors } from './errors.ts';

/**
 * Who is calling /api/v1. `authenticate` turns a Bearer access token into `ctx.state.principal`;
 * routes then ask for what they need with `requireUser` / `requireRole`.
 */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  workspaceId?: string;
  scopes: string[];
  tokenId: string;
  /** The OAuth client the token was issued to. */
  clientId: string;
  /**
   * Issued to Gatehouse itself (login API, Gatehouse's own client): only such tokens act with the
   * user's role. A token an app obtained through an OAuth flow carries the user's consent for that
   * app's scopes, not the right to manage workspaces, members, clients or keys in the user's name.
   */
  firstParty: boolean;
}

/** An API key presented on the request (Bearer, X-API-Key or the workspace's own header). */
export interface ApiKeyPrincipal {
  kind: 'api_key';
  keyId: string;
  workspaceId: string;
  /** Read from the key's record on this request: an edit is effective on the very next one. */
  scopes: string[] | 'all';
}

export type Principal = UserPrincipal | ApiKeyPrincipal;

/** What the token service answers for a valid access token (src/oidc/tokens.ts). */
export interface VerifiedAccessToken {
  sub: string;
  workspaceId?: string;
  clientId: string;
  scopes: string[];
  jti: string;
  exp: number;
  grantId?: string;
}

export interface AccessTokenVerifier {
  /** Throws AppError 401 (`invalid_token` | `token_expired` | `token_revoked`) with WWW-Authenticate. */
  verifyAccessToken(jwt: string): Promise<VerifiedAccessToken>;
}

/** What authentication needs of the key service (src/api-keys/service.ts). */
export interface KeyVerifier {
  verify(input: VerifyKeyInput): Promise<VerifyResult>;
  /** One use of a key through its client_credentials token: counts on the key's rate limit. */
  hitRateLimit?(keyId: string, ip?: string | null): Promise<VerifyResult>;
}

export interface AuthDeps {
  /** Absent until the token service is wired: Bearer values that are not API keys then get 401. */
  tokens?: AccessTokenVerifier;
  apiKeys?: KeyVerifier;
  /** To check that a key came in its workspace's own header (settings.apiKeyHeader). */
  workspaces?: { get(id: string): Promise<{ settings: { apiKeyHeader?: string } } | null> };
  /** Refused uses of a key are recorded (who, what, when, from where). */
  audit?: { record(event: AuditEventInput): Promise<void> | void };
}

declare module 'koa' {
  interface DefaultState {
    principal?: Principal;
    /** Why the presented credentials were refused, where that is only reported on demand. */
    authError?: AppError;
  }
}

const KEY_SHAPE = new RegExp(`^${KEY_PATTERN}$`);

// RFC 6750 §2.1: "Bearer" 1*SP b64token.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * Paths whose own credentials travel in the body (login, refresh, logout): a stale access token a
 * client still attaches must not block getting a new one. There a bad token is only reported if
 * the handler asks for a user.
 */
const BODY_CREDENTIAL_PATHS = '/api/v1/auth/';

/** Headers that never carry a workspace's own key header (see settings RESERVED_HEADERS). */
const NOT_A_KEY_HEADER = new Set([
  'authorization',
  'x-api-key',
  'cookie',
  'host',
  'content-type',
  'content-length',
  'accept',
  'accept-encoding',
  'accept-language',
  'user-agent',
  'connection',
  'x-request-id',
]);

/**
 * A workspace's own key header (e.g. `X-SPATIALGEN-APPKEY`) is found by its value: the key format
 * is self-describing (checksum), so no store read is needed to tell which header carries one.
 * Whether that header is the key's workspace's is checked once the key is known.
 */
function customKeyHeaders(headers: Context['headers']): { header: string; value: string }[] {
  const out: { header: string; value: string }[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (NOT_A_KEY_HEADER.has(name) || typeof value !== 'string') continue;
    if (value.length < 40 || value.length > 80 || !/_(?:live|test)_/.test(value)) continue;
    if (isWellFormed(value.trim())) out.push({ header: name, value: value.trim() });
  }
  return out;
}

type Presented =
  | { kind: 'key'; key: string; header: string }
  | { kind: 'token'; token: string }
  | { kind: 'none' };

/** The one credential of the request; two at once is refused (RFC 6750 §2: one method only). */
function presented(ctx: Context): Presented {
  const found: Presented[] = [];
  const authorization = ctx.get('authorization');
  if (authorization && /^bearer(\s|$)/i.test(authorization)) {
    const match = BEARER.exec(authorization);
    if (!match)
      throw httpErrors.unauthorized('The Authorization header is not "Bearer <token>".', 'invalid_token');
    // Key-shaped (the published regex) is a key, even with a bad checksum: it is refused as key_invalid.
    found.push(
      KEY_SHAPE.test(match[1]!)
        ? { kind: 'key', key: match[1]!, header: 'authorization' }
        : { kind: 'token', token: match[1]! },
    );
  }
  const xApiKey = ctx.headers['x-api-key'];
  if (Array.isArray(xApiKey)) throw ambiguous();
  if (xApiKey) found.push({ kind: 'key', key: xApiKey.trim(), header: 'x-api-key' });
  for (const c of customKeyHeaders(ctx.headers)) found.push({ kind: 'key', key: c.value, header: c.header });
  if (found.length > 1) throw ambiguous();
  return found[0] ?? { kind: 'none' };
}

const ambiguous = () =>
  new AppError(
    400,
    'invalid_request',
    "Send one credential only: an Authorization header, X-API-Key, or your workspace's key header.",
  );

async function keyPrincipal(
  c: AuthDeps,
  ctx: Context,
  key: string,
  header: string,
): Promise<ApiKeyPrincipal> {
  if (!c.apiKeys) throw httpErrors.unauthorized('API keys are not accepted here.', 'key_invalid');
  const result = await c.apiKeys.verify({ key, requiredScopes: [], cost: 0, ip: ctx.ip });
  if (!result.valid) {
    if ('keyId' in result) auditRefusal(c, callerOf(ctx), result.workspaceId, result.keyId, result.reason);
    throw verificationError(result);
  }
  if (header !== 'authorization' && header !== 'x-api-key') {
    const ws = await c.workspaces?.get(result.workspaceId);
    if (ws?.settings.apiKeyHeader?.toLowerCase() !== header) {
      auditRefusal(c, callerOf(ctx), result.workspaceId, result.keyId, 'wrong_header');
      throw httpErrors.unauthorized(
        `This workspace's API keys are not accepted in the ${header} header.`,
        'key_invalid',
      );
    }
  }
  return { kind: 'api_key', keyId: result.keyId, workspaceId: result.workspaceId, scopes: result.scopes };
}

/**
 * A key's client_credentials token is a use of the key: it counts on the key's rate limit (429
 * with Retry-After over it; 401 once the key is revoked or expired), like the key itself would.
 */
export async function usePrincipal(
  c: Pick<AuthDeps, 'apiKeys' | 'audit'>,
  ctx: Context,
  principal: Principal,
): Promise<Principal> {
  if (principal.kind !== 'api_key' || !c.apiKeys?.hitRateLimit) return principal;
  const result = await c.apiKeys.hitRateLimit(principal.keyId, ctx.ip);
  if (!result.valid) {
    if ('keyId' in result) auditRefusal(c, callerOf(ctx), result.workspaceId, result.keyId, result.reason);
    throw verificationError(result);
  }
  return principal;
}

/** Per audit sink: when each key's last `rate_limited` refusal was recorded. */
const lastRateLimited = new WeakMap<object, Map<string, number>>();
const RATE_LIMITED_AUDIT_EVERY_MS = 1000;

/**
 * Records a refused use of a key (never throws, never waits). A key over its rate limit is
 * refused in floods, so those refusals are recorded at most once a second per key: the trail
 * must not become the storage's own flood.
 */
export function auditRefusal(
  c: Pick<AuthDeps, 'audit'>,
  caller: Caller,
  workspaceId: string,
  keyId: string,
  reason: string,
): void {
  if (!c.audit) return;
  if (reason === 'rate_limited') {
    const seen = lastRateLimited.get(c.audit) ?? new Map<string, number>();
    lastRateLimited.set(c.audit, seen);
    const now = Date.now();
    if (now - (seen.get(keyId) ?? 0) < RATE_LIMITED_AUDIT_EVERY_MS) return;
    if (seen.size > 10_000) seen.clear();
    seen.set(keyId, now);
  }
  void Promise.resolve(
    c.audit?.record({
      workspaceId,
      actor: { kind: 'api_key', id: keyId },
      action: 'key.use_refused',
      target: { type: 'api_key', id: keyId },
      outcome: 'failure',
      reason,
      ip: caller.ip,
      userAgent: caller.userAgent,
    }),
  ).catch(() => {});
}

/** Who sent a request, as the audit trail records it. */
export interface Caller {
  ip: string;
  userAgent: string | undefined;
}

export function callerOf(ctx: Context): Caller {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

/**
 * For /api/v1 requests: the request's one credential → `ctx.state.principal`. A Bearer value in
 * the API key format (checksum included), `X-API-Key`, or the key's workspace's own header is an
 * API key, verified on every request (so revocations and scope edits apply to the next one); any
 * other Bearer value is an access token for the token service. Bad credentials → 401 (429 for a
 * key over its rate limit); none, or another scheme → the request continues without a principal.
 * Other paths (oidc-provider's /token, /me, ...) authenticate on their own: untouched.
 */
export function authenticate(c: AuthDeps): Middleware {
  return async (ctx: Context, next: Next) => {
    if (!ctx.path.startsWith('/api/v1/')) return next();
    try {
      const p = presented(ctx);
      if (p.kind === 'key') ctx.state.principal = await keyPrincipal(c, ctx, p.key, p.header);
      else if (p.kind === 'token') {
        if (!c.tokens) throw httpErrors.unauthorized('The access token is not valid.', 'invalid_token');
        const token = await c.tokens.verifyAccessToken(p.token);
        ctx.state.principal = await usePrincipal(c, ctx, tokenPrincipal(token));
      }
    } catch (err) {
      if (!(err instanceof AppError) || !ctx.path.startsWith(BODY_CREDENTIAL_PATHS)) throw err;
      ctx.state.authError = err;
    }
    return next();
  };
}

/**
 * Whom an access token speaks for. A `client_credentials` token of an API key acts as that key,
 * limited to the token's (possibly narrowed) scopes; any other token as its user, with role-based
 * rights only when Gatehouse itself issued it (see UserPrincipal.firstParty).
 */
export function tokenPrincipal(token: VerifiedAccessToken): Principal {
  if (KEY_ID_RE.test(token.clientId)) {
    if (!token.workspaceId) throw httpErrors.unauthorized('The access token is not valid.', 'invalid_token');
    return { kind: 'api_key', keyId: token.clientId, workspaceId: token.workspaceId, scopes: token.scopes };
  }
  return {
    kind: 'user',
    userId: token.sub,
    ...(token.workspaceId ? { workspaceId: token.workspaceId } : {}),
    scopes: token.scopes,
    tokenId: token.jti,
    clientId: token.clientId,
    firstParty: token.clientId === FIRST_PARTY_CLIENT_ID,
  };
}

/**
 * The signed-in user, through a token Gatehouse issued to itself; 401 `unauthorized` (or why the
 * token was refused) with WWW-Authenticate; 403 for an app's token or an API key.
 */
export function requireUser(ctx: Context): UserPrincipal {
  const p = ctx.state.principal;
  if (p?.kind === 'user' && p.firstParty) return p;
  if (p?.kind === 'user')
    throw new AppError(
      403,
      'insufficient_scope',
      `This token was issued to the app ${p.clientId}: it may use the scopes the user consented to, not manage Gatehouse. Sign in through the login API for that.`,
      {},
      { 'WWW-Authenticate': 'Bearer realm="gatehouse", error="insufficient_scope"' },
    );
  if (p?.kind === 'api_key')
    throw new AppError(403, 'user_required', 'This needs a signed-in user; an API key cannot do it.');
  throw (
    ctx.state.authError ??
    httpErrors.unauthorized('Sign in: this needs an access token (Authorization: Bearer ...).')
  );
}

/**
 * The workspace named by id or slug in a user route, and the caller's membership in it with one
 * of `roles` (404 when there is no such workspace or the caller is not a member; 403 for a lower
 * role, or for a password sign-in acting in a workspace that does not allow password sign-in).
 */
export async function workspaceRole(
  c: { workspaces: Pick<WorkspaceService, 'membership' | 'resolve'> },
  ctx: Context,
  idOrSlug: string,
  roles: Role[],
): Promise<{ ws: Workspace; me: Membership }> {
  const user = requireUser(ctx);
  const ws = await c.workspaces.resolve(idOrSlug);
  if (!ws) throw httpErrors.notFound('workspace');
  const me = await requireRole(c, ctx, ws.id, roles);
  if (ws.id !== user.workspaceId) assertSignInAllowed(ws);
  return { ws, me };
}

/**
 * The caller's membership of the workspace, if its role is one of `roles`. Not a member (or no
 * such workspace) → 404, so that nobody learns what other workspaces exist; too low a role → 403.
 */
export async function requireRole(
  c: { workspaces: Pick<WorkspaceService, 'membership'> },
  ctx: Context,
  workspaceId: string,
  roles: Role[],
): Promise<Membership> {
  return roleIn(c, requireUser(ctx), workspaceId, roles);
}

async function roleIn(
  c: { workspaces: Pick<WorkspaceService, 'membership'> },
  user: UserPrincipal,
  workspaceId: string,
  roles: Role[],
): Promise<Membership> {
  const m = await c.workspaces.membership(workspaceId, user.userId);
  if (!m) throw httpErrors.notFound('workspace');
  if (!roles.includes(m.role)) {
    throw httpErrors.forbidden(
      `This needs the role ${roles.join(' or ')} in this workspace; you are ${m.role}.`,
      {
        required_roles: roles,
        role: m.role,
      },
    );
  }
  return m;
}

/**
 * A Gatehouse token (password sign-in through the login API) acting in a workspace other than the
 * one it was issued for: that workspace must allow password sign-in too, or an SSO-only
 * workspace could be managed with a password. 403 `sign_in_method_not_allowed` (to members only:
 * call it after the membership check).
 */
export function assertSignInAllowed(ws: Pick<Workspace, 'settings'>): void {
  if (ws.settings.signInMethods.includes('password')) return;
  throw new AppError(
    403,
    'sign_in_method_not_allowed',
    'This workspace does not allow password sign-in: sign in to it with its own method to manage it.',
  );
}

/** The workspace a request acts on, and the caller's power there. */
export interface Acting {
  workspaceId: string;
  principal: Principal;
  /** For the key service: the scopes the caller holds ('all' for owners/admins) and who it is. */
  caller: { scopes: readonly string[] | 'all'; actor: { kind: 'user' | 'api_key'; id: string }; ip: string };
  /** The caller's role when it is a user. */
  role?: Role;
}

export interface ActingRule {
  /** Users with one of these roles may (default: owners and admins). */
  roles?: Role[];
  /** Keys holding any one of these scopes may (grant-all keys always may); empty: no key may. */
  anyScope: string[];
}

export interface ActingDeps {
  workspaces: Pick<WorkspaceService, 'membership' | 'resolve'>;
  audit?: AuthDeps['audit'];
}

/**
 * The guard of the workspace API (keys, scopes, credits, webhooks, audit). The workspace is the
 * principal's: an access token's `workspace_id`, or the key's workspace; an explicit
 * `workspace_id` the caller is not in answers 404 (nobody learns which workspaces exist). Users
 * need a role (owners and admins hold every scope of their workspace); keys need a scope, else
 * 403 `insufficient_scope` with `required_scopes`, and the refusal is audited.
 */
export async function actingIn(
  c: ActingDeps,
  ctx: Context,
  explicit: string | undefined,
  rule: ActingRule,
): Promise<Acting> {
  const p = ctx.state.principal;
  if (!p)
    throw (
      ctx.state.authError ??
      httpErrors.unauthorized('Authenticate with an access token or an API key (Authorization: Bearer ...).')
    );
  if (p.kind === 'api_key') {
    if (explicit !== undefined && explicit !== p.workspaceId) {
      const ws = await c.workspaces.resolve(explicit);
      if (ws?.id !== p.workspaceId) throw httpErrors.notFound('workspace');
    }
    const held = p.scopes;
    if (held !== 'all' && !rule.anyScope.some((s) => held.includes(s))) {
      auditRefusal(c, callerOf(ctx), p.workspaceId, p.keyId, 'insufficient_scope');
      throw new AppError(
        403,
        'insufficient_scope',
        rule.anyScope.length
          ? `This API key needs one of the scopes: ${rule.anyScope.join(', ')}.`
          : 'API keys cannot do this; sign in as a workspace owner or admin.',
        { required_scopes: rule.anyScope },
        {
          'WWW-Authenticate': `Bearer realm="gatehouse", error="insufficient_scope", scope="${rule.anyScope.join(' ')}"`,
        },
      );
    }
    return {
      workspaceId: p.workspaceId,
      principal: p,
      caller: { scopes: held, actor: { kind: 'api_key', id: p.keyId }, ip: ctx.ip },
    };
  }
  let workspaceId = p.workspaceId;
  let other: Workspace | undefined;
  if (explicit !== undefined) {
    const ws = await c.workspaces.resolve(explicit);
    if (!ws) throw httpErrors.notFound('workspace');
    // An app's token stays in the workspace its user signed in to, whatever else they belong to.
    if (!p.firstParty && ws.id !== p.workspaceId) throw httpErrors.notFound('workspace');
    workspaceId = ws.id;
    if (ws.id !== p.workspaceId) other = ws;
  }
  if (!workspaceId)
    throw httpErrors.badRequest('workspace_id: this token names no workspace; give workspace_id.', {
      field: 'workspace_id',
    });
  const roles = rule.roles ?? ['owner', 'admin'];
  if (!p.firstParty) {
    // An app's token (OAuth flow): the user's role AND the app's consented scopes must both allow it.
    const granted = p.scopes;
    if (!rule.anyScope.some((s) => granted.includes(s))) {
      throw new AppError(
        403,
        'insufficient_scope',
        rule.anyScope.length
          ? `This app's token needs one of the scopes: ${rule.anyScope.join(', ')}.`
          : 'Apps cannot do this with a user token; the user must sign in to Gatehouse.',
        { required_scopes: rule.anyScope },
        {
          'WWW-Authenticate': `Bearer realm="gatehouse", error="insufficient_scope", scope="${rule.anyScope.join(' ')}"`,
        },
      );
    }
  }
  const m = await roleIn(c, p, workspaceId, roles);
  if (other) assertSignInAllowed(other);
  const manager = m.role === 'owner' || m.role === 'admin';
  return {
    workspaceId,
    principal: p,
    role: m.role,
    caller: {
      // Owners and admins hold every scope of their workspace (an app acting for them: its scopes).
      scopes: manager ? (p.firstParty ? 'all' : p.scopes) : [],
      actor: { kind: 'user', id: p.userId },
      ip: ctx.ip,
    },
  };
}
