import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * API key format: `<prefix>_<env>_<body>`, e.g. `sk_live_4Qx...`.
 *
 * - prefix: per workspace, lowercase, may hold underscores (`sk`, `ac`, `vg_key`);
 * - env: `live` or `test`;
 * - body: 27 base62 characters of 160 random bits, then 6 base62 characters of the CRC32 of
 *   everything before them (`<prefix>_<env>_<random>`).
 *
 * The body has no underscore, so parsing anchors from the right: the last two `_` split off the
 * body and the environment, whatever the prefix holds. The checksum lets secret scanners (and
 * `gatehouse keys check`) tell a real key from noise offline; it is not a secret and proves
 * nothing about validity.
 */
export type KeyEnvironment = 'live' | 'test';
export const KEY_ENVIRONMENTS: readonly KeyEnvironment[] = ['live', 'test'];

export const RANDOM_BYTES = 20; // 160 bits
export const RANDOM_CHARS = 27; // ceil(160 / log2(62))
export const CHECKSUM_CHARS = 6; // 62^6 > 2^32
export const BODY_CHARS = RANDOM_CHARS + CHECKSUM_CHARS;

/**
 * Prefix: lowercase words of letters and digits joined by `_`, starting with a letter, at most 16
 * characters (the same rule as the workspace setting `key_prefix`). The pattern's bounds keep it
 * linear for scanners; the 16-character total is checked in code.
 */
export const PREFIX_PATTERN = '[a-z][a-z0-9]{0,15}(?:_[a-z0-9]{1,15}){0,7}';
export const MAX_PREFIX_LENGTH = 16;

/** The published pattern (for secret scanners and the README); the checksum still has to match. */
export const KEY_PATTERN = `${PREFIX_PATTERN}_(?:live|test)_[0-9A-Za-z]{${BODY_CHARS}}`;

const PREFIX_RE = new RegExp(`^${PREFIX_PATTERN}$`);
const KEY_RE = new RegExp(
  `^(${PREFIX_PATTERN})_(live|test)_([0-9A-Za-z]{${RANDOM_CHARS}})([0-9A-Za-z]{${CHECKSUM_CHARS}})$`,
);

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function isValidPrefix(prefix: string): boolean {
  return prefix.length <= MAX_PREFIX_LENGTH && PREFIX_RE.test(prefix);
}

/** Fixed-width base62 of a non-negative integer (big-endian, zero-padded). */
export function base62(value: bigint, width: number): string {
  let out = '';
  let n = value;
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  if (out.length > width) throw new RangeError(`value does not fit in ${width} base62 characters`);
  return out.padStart(width, '0');
}

/** Base62 of the CRC32 (an unsigned 32-bit integer: exact in a double, no BigInt needed on the hot path). */
export function checksum(text: string): string {
  let n = crc32(text);
  let out = '';
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

export interface GeneratedKey {
  key: string;
  prefix: string;
  environment: KeyEnvironment;
}

export function generateKey(prefix: string, environment: KeyEnvironment): GeneratedKey {
  if (!isValidPrefix(prefix)) throw new RangeError(`invalid key prefix ${JSON.stringify(prefix)}`);
  if (!KEY_ENVIRONMENTS.includes(environment)) throw new RangeError(`invalid key environment ${environment}`);
  const random = base62(BigInt(`0x${randomBytes(RANDOM_BYTES).toString('hex')}`), RANDOM_CHARS);
  const head = `${prefix}_${environment}_${random}`;
  return { key: head + checksum(head), prefix, environment };
}

export interface ParsedKey {
  prefix: string;
  environment: KeyEnvironment;
}

export type KeyInspection =
  | { ok: true; prefix: string; environment: KeyEnvironment }
  | { ok: false; reason: 'malformed' | 'bad_checksum' };

/** Tells what is wrong with a candidate key, offline. Never echoes the key. */
export function inspectKey(candidate: unknown): KeyInspection {
  if (typeof candidate !== 'string' || candidate.length > MAX_PREFIX_LENGTH + 6 + BODY_CHARS) {
    return { ok: false, reason: 'malformed' };
  }
  const m = KEY_RE.exec(candidate);
  if (!m || m[1]!.length > MAX_PREFIX_LENGTH) return { ok: false, reason: 'malformed' };
  const [, prefix, environment, , sum] = m;
  if (checksum(candidate.slice(0, -CHECKSUM_CHARS)) !== sum) return { ok: false, reason: 'bad_checksum' };
  return { ok: true, prefix: prefix!, environment: environment as KeyEnvironment };
}

export function parseKey(candidate: unknown): ParsedKey | null {
  const r = inspectKey(candidate);
  return r.ok ? { prefix: r.prefix, environment: r.environment } : null;
}

export function isWellFormed(candidate: unknown): candidate is string {
  return inspectKey(candidate).ok;
}

/** The well-formed keys (checksum included) inside a text, e.g. a log line or a file. */
export function findKeysIn(text: string): string[] {
  const scan = new RegExp(`(?<![A-Za-z0-9_])${KEY_PATTERN}(?![A-Za-z0-9_])`, 'g');
  return [...text.matchAll(scan)].map((m) => m[0]).filter((k) => isWellFormed(k));
}
