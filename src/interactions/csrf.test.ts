import { describe, expect, it } from 'vitest';
import { csrfToken, deriveCsrfKeys, newNonce, verifyCsrfToken } from './csrf.ts';

const [key, oldKey] = deriveCsrfKeys(['a'.repeat(32), 'b'.repeat(32)]) as [Buffer, Buffer];

describe('interaction CSRF tokens', () => {
  it('derives distinct 32-byte keys per secret, and not the secret itself', () => {
    expect(key).toHaveLength(32);
    expect(key.equals(oldKey)).toBe(false);
    expect(key.toString()).not.toContain('a'.repeat(32));
    expect(() => deriveCsrfKeys([])).toThrow();
  });

  it('accepts the token made for the same uid and nonce', () => {
    const nonce = newNonce();
    expect(verifyCsrfToken([key], 'uid-1', nonce, csrfToken(key, 'uid-1', nonce))).toBe(true);
  });

  it('accepts a token signed with an older secret while it is still configured', () => {
    const nonce = newNonce();
    expect(verifyCsrfToken([key, oldKey], 'uid-1', nonce, csrfToken(oldKey, 'uid-1', nonce))).toBe(true);
    expect(verifyCsrfToken([key], 'uid-1', nonce, csrfToken(oldKey, 'uid-1', nonce))).toBe(false);
  });

  it('refuses a token of another interaction, another browser, or a tampered one', () => {
    const nonce = newNonce();
    const token = csrfToken(key, 'uid-1', nonce);
    expect(verifyCsrfToken([key], 'uid-2', nonce, token)).toBe(false);
    expect(verifyCsrfToken([key], 'uid-1', newNonce(), token)).toBe(false);
    const flipped = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    expect(verifyCsrfToken([key], 'uid-1', nonce, flipped)).toBe(false);
  });

  it('refuses missing and malformed input without throwing', () => {
    const nonce = newNonce();
    const token = csrfToken(key, 'uid-1', nonce);
    for (const [n, t] of [
      [undefined, token],
      [nonce, undefined],
      ['', ''],
      [nonce, ''],
      [nonce, `${token}x`],
      [nonce, ['a', 'b']],
      [`${nonce};`, token],
      [nonce, { toString: () => token }],
    ] as [unknown, unknown][]) {
      expect(verifyCsrfToken([key], 'uid-1', n, t)).toBe(false);
    }
  });

  it('makes unguessable nonces', () => {
    const seen = new Set(Array.from({ length: 100 }, newNonce));
    expect(seen.size).toBe(100);
    for (const n of seen) expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
