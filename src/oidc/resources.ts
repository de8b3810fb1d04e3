/**
 * Resource indicators (RFC 8707). Gatehouse's own API is one resource, `${issuer}/api`; access
 * tokens for a resource are JWTs (RFC 9068) signed with the provider's keys.
 */
export function apiResource(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/api`;
}

/** The OpenID Connect scopes; everything else a client asks for is a resource (workspace) scope. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;
const OIDC_SCOPE_SET: ReadonlySet<string> = new Set(OIDC_SCOPES);

export function isOidcScope(scope: string): boolean {
  return OIDC_SCOPE_SET.has(scope);
}

/** Signing alg of JWT access tokens (ES256: smallest and fastest of the algs we hold keys for). */
export const ACCESS_TOKEN_ALG = 'ES256';

/** Lifetimes that are not a workspace setting, in seconds. */
export const FIXED_TTL = {
  IdToken: 3600,
  AuthorizationCode: 60,
  Interaction: 3600,
  /** Used only where no workspace applies (a token that names none). */
  AccessTokenFallback: 3600,
  Session: 14 * 86_400,
} as const;

/**
 * A retired signing key stays in the JWKS at least this long: the longest access-token lifetime
 * a workspace may set (MAX_ACCESS_TOKEN_TTL, 24 h; id tokens live 1 h) plus a minute of clock skew.
 */
export const MIN_SIGNING_KEY_RETENTION = 86_400 + 60;
export const MAX_SIGNING_KEY_RETENTION = 30 * 86_400;
