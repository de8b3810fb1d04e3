import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { CHECKSUM_CHARS, type ParsedKey } from './format.ts';

/** What storage keeps of a key: a SHA-256 digest (hex) of the whole key string. */
export function digestKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/**
 * Constant-time equality of two SHA-256 hex digests: false unless both have a digest's length
 * (64 characters). Compared as they are written (a digest in capitals is another string).
 */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== 64 || b.length !== 64) return false;
  return timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));
}

/**
 * What a human sees to recognise a key: `sk_live_…wXyZ`. The last four characters belong to the
 * checksum, so the hint gives away none of the random part.
 */
export function keyHint(key: string, parsed: ParsedKey): string {
  const last4 = key.slice(-Math.min(4, CHECKSUM_CHARS));
  return `${parsed.prefix}_${parsed.environment}_…${last4}`;
}

/** The public id: `key_` + 16 base62 characters (95 random bits); used in URLs, logs and as client_id. */
export function newKeyId(): string {
  return `key_${randomBase62(16)}`;
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniform base62 characters (rejection sampling: bytes >= 248 would bias `% 62`). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

export const KEY_ID_RE = /^key_[0-9A-Za-z]{16}$/;
