import { describe, expect, it } from 'vitest';
import { serializeVerification, verificationError } from './errors.ts';
import type { VerifyFailure } from './verify.ts';

const ref = { keyId: 'key_0123456789abcdef', workspaceId: 'ws_1' };

describe('how verification answers over HTTP', () => {
  it('maps each reason to its status, code, fields and headers', () => {
    const cases: [VerifyFailure, number, Record<string, unknown>, Record<string, string>][] = [
      [
        { valid: false, reason: 'key_invalid' },
        401,
        {},
        { 'WWW-Authenticate': 'Bearer realm="gatehouse", error="invalid_token"' },
      ],
      [{ valid: false, reason: 'key_revoked', ...ref }, 401, {}, {}],
      [{ valid: false, reason: 'key_expired', ...ref }, 401, {}, {}],
      [
        {
          valid: false,
          reason: 'insufficient_scope',
          requiredScopes: ['a:read', 'b:write'],
          missingScopes: ['b:write'],
          ...ref,
        },
        403,
        { required_scopes: ['a:read', 'b:write'], missing_scopes: ['b:write'] },
        {
          'WWW-Authenticate': 'Bearer realm="gatehouse", error="insufficient_scope", scope="a:read b:write"',
        },
      ],
      [
        { valid: false, reason: 'rate_limited', retryAfter: 42, limit: 100, ...ref },
        429,
        { retry_after: 42, limit: 100 },
        { 'Retry-After': '42' },
      ],
      [
        { valid: false, reason: 'credits_exhausted', creditsRemaining: 0, ...ref },
        402,
        { credits_remaining: 0 },
        {},
      ],
    ];
    for (const [failure, status, extra, headers] of cases) {
      const err = verificationError(failure);
      expect(err.status).toBe(status);
      expect(err.code).toBe(failure.reason);
      expect(err.extra).toEqual(extra);
      expect(err.headers).toMatchObject(headers);
      expect(err.message.length).toBeGreaterThan(5);
    }
    const cap = verificationError({
      valid: false,
      reason: 'rate_limited',
      retryAfter: 5,
      limit: 2,
      scope: 'emails:send',
      ...ref,
    });
    expect(cap.extra).toEqual({ retry_after: 5, limit: 2, scope: 'emails:send' });
    expect(cap.message).toMatch(/emails:send/);
  });

  it('serializes answers for resource servers', () => {
    expect(
      serializeVerification({
        valid: true,
        keyId: ref.keyId,
        workspaceId: 'ws_1',
        name: 'k',
        environment: 'live',
        scopes: 'all',
        expiresAt: null,
        rateLimit: { limit: 10, remaining: 9, resetAt: new Date('2030-01-01T00:01:00Z') },
        creditsRemaining: 7,
        metered: true,
      }),
    ).toEqual({
      valid: true,
      workspace_id: 'ws_1',
      key_id: ref.keyId,
      name: 'k',
      environment: 'live',
      scopes: [],
      grant_all: true,
      expires_at: null,
      rate_limit: { limit: 10, remaining: 9, reset_at: '2030-01-01T00:01:00.000Z' },
      credits_remaining: 7,
      metered: true,
    });
    expect(
      serializeVerification({ valid: false, reason: 'credits_exhausted', creditsRemaining: 0, ...ref }),
    ).toEqual({
      valid: false,
      error: 'credits_exhausted',
      message: 'No credits remaining; top up the workspace balance.',
      key_id: ref.keyId,
      workspace_id: 'ws_1',
      credits_remaining: 0,
    });
    expect(serializeVerification({ valid: false, reason: 'key_invalid' })).toEqual({
      valid: false,
      error: 'key_invalid',
      message: 'Invalid API key.',
    });
  });
});
