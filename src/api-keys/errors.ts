import { AppError } from '../http/errors.ts';
import type { VerifyFailure, VerifyResult } from './verify.ts';

/** The key domain's error table (codes are stable: clients branch on them). */
export const keyErrors = {
  notFound: () => new AppError(404, 'not_found', 'No such API key.'),
  scopesRequired: () =>
    new AppError(
      400,
      'scopes_required',
      'Choose at least one scope or a preset, or set grant_all explicitly: a key never gets a wildcard by accident.',
    ),
  grantAllExclusive: () =>
    new AppError(
      400,
      'invalid_request',
      'grant_all gives every scope: do not combine it with scopes or a preset.',
      {
        field: 'grant_all',
      },
    ),
  grantAllForbidden: () =>
    new AppError(
      403,
      'scope_escalation',
      'Only a caller with every scope (grant-all) may create or edit a grant-all key.',
      {
        missing_scopes: ['*'],
      },
    ),
  escalation: (missing: string[]) =>
    new AppError(403, 'scope_escalation', `You cannot grant scopes you do not hold: ${missing.join(', ')}.`, {
      missing_scopes: missing,
    }),
  /** Revoking, rotating or editing a key takes all of its power. */
  exceedsCaller: (missing: string[]) =>
    new AppError(
      403,
      'scope_escalation',
      missing[0] === '*'
        ? 'Only a caller with every scope (grant-all) may revoke, rotate or edit a grant-all key.'
        : `You can only revoke, rotate or edit a key whose scopes you all hold; you lack: ${missing.join(', ')}.`,
      { missing_scopes: missing },
    ),
  /** A key acting on keys (itself included) cannot set looser limits than its own. */
  looserThanCaller: (field: 'rate_limit' | 'expires_at') =>
    new AppError(
      403,
      'forbidden',
      `An API key cannot set a ${field} looser than its own (nor loosen its own); ask a workspace owner or admin.`,
      { field },
    ),
  expiryInPast: () =>
    new AppError(400, 'invalid_request', 'expires_at must be in the future.', { field: 'expires_at' }),
  revoked: () => new AppError(409, 'key_revoked', 'This API key is revoked; create a new one.'),
  expired: () => new AppError(409, 'key_expired', 'This API key has expired; create a new one.'),
  rotationConflict: () =>
    new AppError(
      409,
      'conflict',
      'The key was rotated by another request at the same time; read it again and retry.',
    ),
  badPrefix: (prefix: string) =>
    new AppError(
      409,
      'invalid_key_prefix',
      `The workspace's key prefix ${JSON.stringify(prefix)} is not valid; fix its settings.`,
    ),
};

const AUTHENTICATE = (error: string, extra = '') => `Bearer realm="gatehouse", error="${error}"${extra}`;

/**
 * How a failed verification answers over HTTP (401/402/403/429 with the fields that help), as
 * data: building an Error (its stack trace) costs more than the verification itself.
 */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  extra: Record<string, unknown>;
  headers: Record<string, string>;
}

const refused = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Refusal => ({ status, code, message, extra, headers });

/** The HTTP error of a refused verification (for Gatehouse's own routes, which throw it). */
export function verificationError(f: VerifyFailure): AppError {
  const r = refusal(f);
  return new AppError(r.status, r.code, r.message, r.extra, r.headers);
}

export function refusal(f: VerifyFailure): Refusal {
  switch (f.reason) {
    case 'key_invalid':
      return refused(
        401,
        'key_invalid',
        'Invalid API key.',
        {},
        { 'WWW-Authenticate': AUTHENTICATE('invalid_token') },
      );
    case 'key_revoked':
      return refused(
        401,
        'key_revoked',
        'This API key has been revoked.',
        {},
        {
          'WWW-Authenticate': AUTHENTICATE('invalid_token'),
        },
      );
    case 'key_expired':
      return refused(
        401,
        'key_expired',
        'This API key has expired.',
        {},
        {
          'WWW-Authenticate': AUTHENTICATE('invalid_token'),
        },
      );
    case 'insufficient_scope':
      return refused(
        403,
        'insufficient_scope',
        `This API key lacks the scope(s): ${f.missingScopes.join(', ')}.`,
        { required_scopes: f.requiredScopes, missing_scopes: f.missingScopes },
        { 'WWW-Authenticate': AUTHENTICATE('insufficient_scope', `, scope="${f.requiredScopes.join(' ')}"`) },
      );
    case 'rate_limited':
      return refused(
        429,
        'rate_limited',
        f.scope
          ? `The ${f.scope} limit of this key is reached; try again later.`
          : 'Rate limit exceeded; try again later.',
        { retry_after: f.retryAfter, limit: f.limit, ...(f.scope ? { scope: f.scope } : {}) },
        { 'Retry-After': String(f.retryAfter) },
      );
    case 'credits_exhausted':
      return refused(402, 'credits_exhausted', 'No credits remaining; top up the workspace balance.', {
        credits_remaining: f.creditsRemaining,
      });
  }
}

/**
 * The JSON answer of a verification for resource servers (`POST /api/v1/keys/verify`): the
 * key's workspace, id, scopes, rate-limit and credit state when valid; otherwise the reason as
 * `error`, a sentence, and the fields that help (the same as the HTTP error would carry).
 */
export function serializeVerification(r: VerifyResult, refused?: Refusal): Record<string, unknown> {
  if (!r.valid) {
    const err = refused ?? refusal(r);
    return {
      valid: false,
      error: err.code,
      message: err.message,
      ...('keyId' in r ? { key_id: r.keyId, workspace_id: r.workspaceId } : {}),
      ...err.extra,
    };
  }
  return {
    valid: true,
    workspace_id: r.workspaceId,
    key_id: r.keyId,
    name: r.name,
    environment: r.environment,
    scopes: r.scopes === 'all' ? [] : r.scopes,
    grant_all: r.scopes === 'all',
    expires_at: r.expiresAt ? r.expiresAt.toISOString() : null,
    rate_limit: r.rateLimit
      ? {
          limit: r.rateLimit.limit,
          remaining: r.rateLimit.remaining,
          reset_at: r.rateLimit.resetAt.toISOString(),
        }
      : null,
    credits_remaining: r.creditsRemaining,
    metered: r.metered,
  };
}
