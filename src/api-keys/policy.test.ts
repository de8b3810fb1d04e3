import { describe, expect, it } from 'vitest';
import { assertHolds, assertHoldsKey, assertIds } from './policy.ts';

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
