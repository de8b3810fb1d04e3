import { describe, expect, it } from 'vitest';
import {
  assertCanManage,
  assertHolds,
  assertHoldsKey,
  assertIds,
  assertWithinCallerLimits,
} from './policy.ts';

const code = (fn: () => void) => {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
};

describe('who may grant what', () => {
  it('lets a caller grant only scopes it holds', () => {
    const caller = { scopes: ['videos:read', 'videos:write'] };
    expect(code(() => assertHolds(caller, ['videos:read']))).toBe('ok');
    expect(code(() => assertHolds(caller, ['videos:read', 'members:write']))).toBe('scope_escalation');
    expect(code(() => assertHolds({ scopes: 'all' }, ['anything:at_all']))).toBe('ok');
    expect(code(() => assertHolds({ scopes: [] }, []))).toBe('ok');
    // a malformed caller holds nothing
    expect(code(() => assertHolds({ scopes: 'ALL' as never }, ['videos:read']))).toBe('scope_escalation');
  });

  it('lets only an all-scopes caller hand out or touch a grant-all key', () => {
    const everything = { scopes: ['videos:read', 'videos:write'] };
    expect(code(() => assertHoldsKey(everything, { scopes: 'all' }))).toBe('scope_escalation');
    expect(code(() => assertHoldsKey({ scopes: 'all' }, { scopes: 'all' }))).toBe('ok');
    expect(code(() => assertHoldsKey(everything, { scopes: ['videos:write'] }))).toBe('ok');
  });

  it('treats anything but id strings as no such key', () => {
    expect(code(() => assertIds('ws_1', 'key_0123456789abcdef'))).toBe('ok');
    for (const [ws, id] of [
      ['ws_1', 'key_short'],
      ['ws_1', { $ne: null }],
      [undefined, 'key_0123456789abcdef'],
      ['', 'key_0123456789abcdef'],
      [{ $gt: '' }, 'key_0123456789abcdef'],
    ]) {
      expect(code(() => assertIds(ws, id))).toBe('not_found');
    }
  });
});

describe('who may manage a key, and with which limits', () => {
  it('takes every scope of the key (all of them for grant-all) to revoke, rotate or edit it', () => {
    const manager = { scopes: ['api_keys:manage', 'videos:read'] };
    expect(code(() => assertCanManage(manager, { grantAll: false, scopes: ['videos:read'] }))).toBe('ok');
    expect(code(() => assertCanManage(manager, { grantAll: false, scopes: ['videos:read', 'x:y'] }))).toBe(
      'scope_escalation',
    );
    expect(code(() => assertCanManage(manager, { grantAll: true, scopes: [] }))).toBe('scope_escalation');
    expect(code(() => assertCanManage({ scopes: 'all' }, { grantAll: true, scopes: [] }))).toBe('ok');
  });

  it('lets a limited key set only limits within its own', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const own = { rateLimit: { requests: 10, windowSeconds: 60 }, expiresAt: at };
    const later = new Date(at.getTime() + 1);
    const earlier = new Date(at.getTime() - 1);
    expect(code(() => assertWithinCallerLimits(null, { rateLimit: null, expiresAt: null }))).toBe('ok');
    expect(code(() => assertWithinCallerLimits(own, {}))).toBe('ok');
    expect(
      code(() => assertWithinCallerLimits(own, { rateLimit: { requests: 10, windowSeconds: 60 } })),
    ).toBe('ok');
    expect(
      code(() => assertWithinCallerLimits(own, { rateLimit: { requests: 5, windowSeconds: 120 } })),
    ).toBe('ok');
    expect(code(() => assertWithinCallerLimits(own, { expiresAt: earlier }))).toBe('ok');
    for (const set of [
      { rateLimit: null },
      { rateLimit: { requests: 11, windowSeconds: 60 } },
      { rateLimit: { requests: 10, windowSeconds: 59 } },
      { expiresAt: null },
      { expiresAt: later },
    ]) {
      expect(
        code(() => assertWithinCallerLimits(own, set)),
        JSON.stringify(set),
      ).toBe('forbidden');
    }
    // A key with no limits of its own hands out whatever it likes.
    expect(
      code(() => assertWithinCallerLimits({ rateLimit: null, expiresAt: null }, { rateLimit: null })),
    ).toBe('ok');
  });
});
