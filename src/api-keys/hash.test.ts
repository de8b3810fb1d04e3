import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKey, parseKey } from './format.ts';
import { digestKey, digestsEqual, KEY_ID_RE, keyHint, newKeyId, randomBase62 } from './hash.ts';

describe('key hashing', () => {
  it('stores the SHA-256 hex digest of the whole key', () => {
    const { key } = generateKey('sk', 'live');
    expect(digestKey(key)).toBe(createHash('sha256').update(key).digest('hex'));
    expect(digestKey(key)).toMatch(/^[0-9a-f]{64}$/);
    expect(digestKey(key)).not.toBe(digestKey(generateKey('sk', 'live').key));
  });

  it('compares digests in constant time and refuses anything that is not a digest', () => {
    const d = digestKey('a');
    expect(digestsEqual(d, digestKey('a'))).toBe(true);
    expect(digestsEqual(d, digestKey('b'))).toBe(false);
    expect(digestsEqual(d, d.slice(0, 62))).toBe(false);
    expect(digestsEqual(d.toUpperCase(), d)).toBe(false);
    expect(digestsEqual('', '')).toBe(false);
  });

  it('hints with prefix, environment and the last 4 characters only', () => {
    const { key } = generateKey('vg_key', 'test');
    const hint = keyHint(key, parseKey(key)!);
    expect(hint).toBe(`vg_key_test_…${key.slice(-4)}`);
    // nothing of the random part
    const random = key.slice('vg_key_test_'.length, -6);
    expect(hint.includes(random.slice(0, 4))).toBe(false);
  });

  it('makes public ids key_ + 16 base62 characters, all different', () => {
    const ids = new Set(Array.from({ length: 2000 }, newKeyId));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(KEY_ID_RE);
    expect(randomBase62(40)).toMatch(/^[0-9A-Za-z]{40}$/);
  });
});
