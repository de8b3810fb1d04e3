import type { AuditActor } from '../audit/model.ts';
import type { ScopeCatalog } from '../workspaces/scopes.ts';
import { keyErrors } from './errors.ts';
import { KEY_ID_RE } from './hash.ts';

/**
 * Who may grant what. The rule: nobody creates, edits or rotates a key with more power than they
 * hold; grant-all is never implied and only a caller holding everything may hand it out.
 */

/** Who asks: the scopes it holds ('all' for workspace owners/admins, the operator, grant-all keys). */
export interface Caller {
  scopes: readonly string[] | 'all';
  /** Who it is, for the audit trail (default: the system). */
  actor?: AuditActor;
  ip?: string;
}

/** 403 scope_escalation unless the caller holds every one of `scopes`. */
export function assertHolds(caller: Caller, scopes: readonly string[]): void {
  if (caller.scopes === 'all') return;
  const held = new Set(Array.isArray(caller.scopes) ? caller.scopes : []);
  const missing = scopes.filter((s) => !held.has(s));
  if (missing.length) throw keyErrors.escalation(missing);
}

/** 403 unless the caller holds all the power of a key (its scopes, or everything for grant-all). */
export function assertHoldsKey(caller: Caller, key: { scopes: readonly string[] | 'all' }): void {
  if (key.scopes === 'all') {
    if (caller.scopes !== 'all') throw keyErrors.grantAllForbidden();
  } else assertHolds(caller, key.scopes);
}

/**
 * 403 unless the caller holds all the power of an existing key: revoking, rotating or editing a
 * key is only for those who could have created it.
 */
export function assertCanManage(caller: Caller, key: { grantAll: boolean; scopes: readonly string[] }): void {
  if (caller.scopes === 'all') return;
  if (key.grantAll) throw keyErrors.exceedsCaller(['*']);
  const held = new Set(caller.scopes);
  const missing = key.scopes.filter((s) => !held.has(s));
  if (missing.length) throw keyErrors.exceedsCaller(missing);
}

type Limit = { requests: number; windowSeconds: number } | null;
type Limits = { rateLimit: Limit; expiresAt: Date | null };

/**
 * An API key acting on keys (itself or another one it creates or edits) cannot hand out looser
 * limits than its own: a rate limit or expiry it sets must be within its own (no more requests,
 * no shorter window; no later expiry, and none removed). Otherwise a limited key could lift its
 * own limits, or mint an unlimited twin. `callerKey` is the calling key's current limits (null:
 * the caller is not a key); `set` holds the fields being set (undefined: left as they are).
 */
export function assertWithinCallerLimits(
  callerKey: Limits | null,
  set: { rateLimit?: Limit; expiresAt?: Date | null },
): void {
  if (!callerKey) return;
  const own = callerKey.rateLimit;
  const next = set.rateLimit;
  if (own && next !== undefined) {
    if (!next || next.requests > own.requests || next.windowSeconds < own.windowSeconds)
      throw keyErrors.looserThanCaller('rate_limit');
  }
  if (callerKey.expiresAt && set.expiresAt !== undefined) {
    if (!set.expiresAt || set.expiresAt > callerKey.expiresAt) throw keyErrors.looserThanCaller('expires_at');
  }
}

export interface ScopeRequest {
  scopes?: string[];
  preset?: string;
  grantAll?: boolean;
}

/**
 * The scopes a create or edit ends with ('all' for grant-all): grant-all only explicitly and only
 * by an 'all' caller; otherwise at least one scope (named and/or from a preset), each in the
 * workspace's catalogue and not retired (unless the key already held it), each held by the caller.
 */
export async function grantedScopes(
  catalog: ScopeCatalog,
  workspaceId: string,
  v: ScopeRequest,
  caller: Caller,
  alreadyHeld: readonly string[],
): Promise<string[] | 'all'> {
  if (v.grantAll) {
    if (v.scopes !== undefined || v.preset !== undefined) throw keyErrors.grantAllExclusive();
    if (caller.scopes !== 'all') throw keyErrors.grantAllForbidden();
    return 'all';
  }
  const fromPreset = v.preset ? await catalog.resolvePreset(workspaceId, v.preset) : [];
  const scopes = [...new Set([...(v.scopes ?? []), ...fromPreset])];
  if (scopes.length === 0) throw keyErrors.scopesRequired();
  const held = new Set(alreadyHeld);
  await catalog.assertGrantable(
    workspaceId,
    scopes.filter((s) => !held.has(s)),
  );
  assertHolds(caller, scopes);
  return scopes;
}

/**
 * Ids reach the store as filter values: anything but a well-formed id string (an object from a
 * careless caller could read as a query operator; undefined would drop the condition) is simply
 * "no such key".
 */
export function assertIds(workspaceId: unknown, keyId: unknown): void {
  if (
    typeof workspaceId !== 'string' ||
    !workspaceId ||
    typeof keyId !== 'string' ||
    !KEY_ID_RE.test(keyId)
  ) {
    throw keyErrors.notFound();
  }
}
