/** A tenant: a customer organisation. Nothing crosses workspaces. */
export interface WorkspaceSettings {
  /** Lifetime of access tokens issued to this workspace's users and clients, in seconds (default 4 h). */
  accessTokenTtl: number;
  /** Lifetime of refresh tokens, in seconds (default 30 days). */
  refreshTokenTtl: number;
  signInMethods: SignInMethod[];
  /** Prefix of this workspace's API keys, e.g. `sk` → `sk_live_...`. */
  keyPrefix: string;
  /** An extra header that carries API keys, e.g. `X-SPATIALGEN-APPKEY` (Bearer and X-API-Key always work). */
  apiKeyHeader?: string;
}

export type SignInMethod = 'password' | 'google' | 'apple' | 'saml';

export interface Workspace {
  id: string; // ws_...
  name: string;
  /** Unique, URL-safe. */
  slug: string;
  settings: WorkspaceSettings;
  createdAt: Date;
  updatedAt: Date;
}

export const DEFAULT_SETTINGS: WorkspaceSettings = {
  accessTokenTtl: 4 * 3600,
  refreshTokenTtl: 30 * 86_400,
  signInMethods: ['password'],
  keyPrefix: 'sk',
};
