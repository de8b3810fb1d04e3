import type { KeyEnvironment } from './format.ts';

export interface RateLimit {
  /** At most this many verifications... */
  requests: number;
  /** ...per fixed window of this many seconds. */
  windowSeconds: number;
}

export type Metadata = Record<string, string | number | boolean | null>;

/**
 * A stored API key. The secret itself is never stored: `digest` is the SHA-256 of the whole key
 * and `hint` what a human sees. Every optional value is an explicit null (never undefined), so
 * both stores hand back the same document.
 */
export interface ApiKeyRecord {
  id: string; // key_...
  workspaceId: string;
  name: string;
  environment: KeyEnvironment;
  prefix: string;
  digest: string;
  hint: string;
  /** The secret replaced by the last rotation, still accepted until `previousDigestExpiresAt` (grace). */
  previousDigest: string | null;
  previousDigestExpiresAt: Date | null;
  scopes: string[];
  /** Every current and future scope; set only explicitly. */
  grantAll: boolean;
  temporary: boolean;
  expiresAt: Date | null;
  /** expiresAt in ms, or MAX_SAFE_INTEGER: lets "active" and "expired" be one range filter. */
  expiresAtMs: number;
  revokedAt: Date | null;
  rateLimit: RateLimit | null;
  metadata: Metadata;
  /** Bumped by every rotation; a rotation's write is conditional on it, so racing rotations leave one secret. */
  version: number;
  /** `<createdAt ms, 14 digits><id>`: newest-first listing with a cursor is one indexed range. */
  sortKey: string;
  createdAt: Date;
  updatedAt: Date;
  rotatedAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
}

export type KeyStatus = 'active' | 'revoked' | 'expired';

export function statusOf(record: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: Date): KeyStatus {
  if (record.revokedAt) return 'revoked';
  if (record.expiresAt && record.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

/** What the service hands out: the record without digests, with its status at read time. */
export interface ApiKeyView {
  id: string;
  workspaceId: string;
  name: string;
  environment: KeyEnvironment;
  hint: string;
  scopes: string[];
  grantAll: boolean;
  status: KeyStatus;
  temporary: boolean;
  expiresAt: Date | null;
  revokedAt: Date | null;
  rateLimit: RateLimit | null;
  metadata: Metadata;
  createdAt: Date;
  updatedAt: Date;
  rotatedAt: Date | null;
  /** Until when the secret replaced by the last rotation still works (null: it does not). */
  previousSecretExpiresAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
}

export function toView(r: ApiKeyRecord, now: Date): ApiKeyView {
  const grace =
    r.previousDigestExpiresAt && r.previousDigestExpiresAt > now ? r.previousDigestExpiresAt : null;
  return {
    id: r.id,
    workspaceId: r.workspaceId,
    name: r.name,
    environment: r.environment,
    hint: r.hint,
    scopes: r.scopes,
    grantAll: r.grantAll,
    status: statusOf(r, now),
    temporary: r.temporary,
    expiresAt: r.expiresAt,
    revokedAt: r.revokedAt,
    rateLimit: r.rateLimit,
    metadata: r.metadata,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    rotatedAt: r.rotatedAt,
    previousSecretExpiresAt: r.revokedAt ? null : grace,
    lastUsedAt: r.lastUsedAt,
    lastUsedIp: r.lastUsedIp,
  };
}

/** The JSON shape of the API (snake_case). */
export function serializeKey(v: ApiKeyView): Record<string, unknown> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: v.id,
    object: 'api_key',
    workspace_id: v.workspaceId,
    name: v.name,
    environment: v.environment,
    hint: v.hint,
    scopes: v.scopes,
    grant_all: v.grantAll,
    status: v.status,
    temporary: v.temporary,
    expires_at: iso(v.expiresAt),
    revoked_at: iso(v.revokedAt),
    rate_limit: v.rateLimit
      ? { requests: v.rateLimit.requests, window_seconds: v.rateLimit.windowSeconds }
      : null,
    metadata: v.metadata,
    created_at: iso(v.createdAt),
    updated_at: iso(v.updatedAt),
    rotated_at: iso(v.rotatedAt),
    previous_secret_expires_at: iso(v.previousSecretExpiresAt),
    last_used_at: iso(v.lastUsedAt),
    last_used_ip: v.lastUsedIp,
  };
}
