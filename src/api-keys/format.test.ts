import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  BODY_CHARS,
  base62,
  checksum,
  findKeysIn,
  generateKey,
  inspectKey,
  isValidPrefix,
  isWellFormed,
  KEY_PATTERN,
  parseKey,
} from './format.ts';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function flip(key: string, index: number): string {
  const c = key[index]!;
  const other = ALPHABET[(ALPHABET.indexOf(c) + 1) % 62]!;
  return key.slice(0, index) + other + key.slice(index + 1);
}

describe('key format', () => {
  it('round-trips: a generated key parses back to its prefix and environment', () => {
    for (const [prefix, env] of [
      ['sk', 'live'],
      ['sk', 'test'],
      ['ac', 'live'],
      ['vg_key', 'test'],
    ] as const) {
      const { key } = generateKey(prefix, env);
      expect(key.startsWith(`${prefix}_${env}_`)).toBe(true);
      expect(key.length).toBe(prefix.length + env.length + 2 + BODY_CHARS);
      expect(parseKey(key)).toEqual({ prefix, environment: env });
      expect(isWellFormed(key)).toBe(true);
      expect(new RegExp(`^${KEY_PATTERN}$`).test(key)).toBe(true);
    }
  });

  it('carries at least 128 random bits: 1000 keys are all different', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey('sk', 'live').key));
    expect(keys.size).toBe(1000);
  });

  it('anchors parsing from the right, so prefixes may hold underscores and even env-like segments', () => {
    for (const prefix of ['vg_key', 'my_test', 'a_live_b', 'x1_y2_z3']) {
      const { key } = generateKey(prefix, 'live');
      expect(parseKey(key)).toEqual({ prefix, environment: 'live' });
    }
    const { key } = generateKey('sk_live', 'test');
    expect(parseKey(key)).toEqual({ prefix: 'sk_live', environment: 'test' });
  });

  it('fails the checksum when any character of the body is changed', () => {
    const { key } = generateKey('sk', 'live');
    const bodyStart = key.length - BODY_CHARS;
    for (let i = bodyStart; i < key.length; i++) {
      expect(inspectKey(flip(key, i))).toEqual({ ok: false, reason: 'bad_checksum' });
    }
  });

  it('fails the checksum when the prefix or environment is swapped (they are checksummed too)', () => {
    const { key } = generateKey('sk', 'live');
    expect(inspectKey(key.replace('sk_live_', 'sk_test_'))).toEqual({ ok: false, reason: 'bad_checksum' });
    expect(inspectKey(key.replace('sk_live_', 'ac_live_'))).toEqual({ ok: false, reason: 'bad_checksum' });
  });

  it('rejects noise', () => {
    const noise = [
      '',
      'sk_live_',
      'sk_live_a1b2c3d4e5f6g7h8',
      `sk_live_${'a'.repeat(BODY_CHARS)}`,
      `sk_prod_${'a'.repeat(BODY_CHARS)}`,
      `SK_live_${'a'.repeat(BODY_CHARS)}`,
      `sk_live_${'a'.repeat(BODY_CHARS - 1)}-`,
      `_live_${'a'.repeat(BODY_CHARS)}`,
      'Bearer sk_live_x',
      'x'.repeat(10_000),
      42,
      null,
      undefined,
      { key: 'sk_live_x' },
    ];
    for (const n of noise) expect(isWellFormed(n)).toBe(false);
    // a key with a trailing newline or space is not the key
    const { key } = generateKey('sk', 'live');
    expect(isWellFormed(`${key}\n`)).toBe(false);
    expect(isWellFormed(` ${key}`)).toBe(false);
  });

  it('finds keys inside text with the scanning regex, and only those', () => {
    const a = generateKey('sk', 'live').key;
    const b = generateKey('vg_key', 'test').key;
    const text = `config: API_KEY="${a}"\nother=${b}; not_a_key=sk_live_123`;
    expect(findKeysIn(text)).toEqual([a, b]);
    // a look-alike with a wrong checksum is dropped
    const fake = `${a.slice(0, -1)}${a.endsWith('0') ? '1' : '0'}`;
    expect(findKeysIn(`${fake} ${b}`)).toEqual([b]);
    expect(findKeysIn(`x${a}`)).toEqual([]);
  });

  it('validates prefixes', () => {
    for (const p of ['sk', 'ac', 'vg_key', 'a', 'abc123', 'a_b_c_d_e_f_g_h', 'x'.repeat(16)]) {
      expect(isValidPrefix(p)).toBe(true);
    }
    for (const p of [
      '',
      'Sk',
      '1sk',
      'sk_',
      '_sk',
      'sk__x',
      'sk-live',
      'a_b_c_d_e_f_g_h_i',
      'x'.repeat(17),
    ]) {
      expect(isValidPrefix(p)).toBe(false);
    }
    expect(() => generateKey('Bad', 'live')).toThrow(RangeError);
  });

  it('encodes fixed-width base62 and a 6-character CRC32 checksum', () => {
    expect(base62(0n, 3)).toBe('000');
    expect(base62(61n, 2)).toBe('0z');
    expect(base62(62n, 2)).toBe('10');
    expect(() => base62(62n ** 3n, 3)).toThrow(RangeError);
    expect(checksum('sk_live_abc')).toMatch(/^[0-9A-Za-z]{6}$/);
    expect(base62(2n ** 32n - 1n, 6)).toMatch(/^[0-9A-Za-z]{6}$/);
  });

  it('computes the checksum as the fixed-width base62 of the CRC32 (keys issued before stay valid)', () => {
    for (const text of ['', 'sk_live_abc', 'vg_key_test_0123456789ABCDEFGHIJKLMNOPQ', 'x'.repeat(60)]) {
      expect(checksum(text)).toBe(base62(BigInt(crc32(text)), 6));
    }
    // Known values, so a change of encoding cannot pass unnoticed.
    expect(checksum('')).toBe('000000');
    expect(checksum('sk_live_abc')).toBe('3ayyHh');
  });
});
