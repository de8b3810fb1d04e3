/**
 * An OAuth client registered in a workspace. Confidential clients authenticate with a secret
 * whose SHA-256 digest (hex) is all that is stored; public clients (native and browser apps)
 * have none and must use PKCE.
 */
export type ClientType = 'public' | 'confidential';
export type ClientGrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';
export const CLIENT_GRANT_TYPES: readonly ClientGrantType[] = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
];
export type SecretAuthMethod = 'client_secret_basic' | 'client_secret_post';

export interface OAuthClientRecord {
  id: string; // cli_...
  workspaceId: string;
  name: string;
  type: ClientType;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: ClientGrantType[];
  /** How a confidential client presents its secret at /token (null for public clients). */
  authMethod: SecretAuthMethod | null;
  /** Resource indicators (RFC 8707) this client may ask tokens for, besides Gatehouse's own API. */
  resources: string[];
  /** Access tokens must be DPoP-bound (RFC 9449). */
  dpopBound: boolean;
  secretDigest: string | null;
  /** The last four characters of the secret, for a human to recognise it. */
  secretHint: string | null;
  createdAt: Date;
  updatedAt: Date;
  secretRotatedAt: Date | null;
}

/** A client as the API and CLI show it: everything but the secret's digest. */
export type ClientView = Omit<OAuthClientRecord, 'secretDigest'>;

export function toClientView(r: OAuthClientRecord): ClientView {
  const { secretDigest: _, ...view } = r;
  return view;
}

/** The JSON shape of the API (snake_case, OAuth metadata names where one exists). */
export function serializeClient(v: ClientView): Record<string, unknown> {
  return {
    object: 'oauth_client',
    client_id: v.id,
    workspace_id: v.workspaceId,
    client_name: v.name,
    client_type: v.type,
    redirect_uris: v.redirectUris,
    post_logout_redirect_uris: v.postLogoutRedirectUris,
    grant_types: v.grantTypes,
    token_endpoint_auth_method: v.authMethod ?? 'none',
    resources: v.resources,
    dpop_bound_access_tokens: v.dpopBound,
    client_secret_hint: v.secretHint,
    created_at: v.createdAt.toISOString(),
    updated_at: v.updatedAt.toISOString(),
    secret_rotated_at: v.secretRotatedAt ? v.secretRotatedAt.toISOString() : null,
  };
}
