import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, shared by the sender and by receivers (exported for platforms to verify).
 *
 *   Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${rawBody}`)>[,v1=<hex>...]
 *
 * The timestamp is signed with the body, so a captured request cannot be replayed after the
 * tolerance window, nor its timestamp moved. Several `v1` values appear while a secret is being
 * rotated (one per secret still valid); a receiver accepts the request when any of them matches.
 * The HMAC key is the whole secret string (`whsec_...`), UTF-8 encoded.
 */
export const SIGNATURE_HEADER = 'Gatehouse-Signature';
export const SECRET_PREFIX = 'whsec_';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A new signing secret: `whsec_` + 256 random bits, base64url. */
export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64url');
}

export function computeSignature(secret: string, timestamp: number, rawBody: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(rawBody);
  return hmac.digest('hex');
}

/** The header value for a body signed now with each of `secrets` (the current one first). */
export function signatureHeader(
  secrets: readonly string[],
  timestamp: number,
  rawBody: string | Uint8Array,
): string {
  if (!secrets.length) throw new Error('at least one signing secret is required');
  if (!Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new Error('timestamp must be whole unix seconds');
  return [`t=${timestamp}`, ...secrets.map((s) => `v1=${computeSignature(s, timestamp, rawBody)}`)].join(',');
}

export interface ParsedSignature {
  timestamp: number;
  signatures: string[];
}

/** Parses `t=...,v1=...`; unknown schemes (a future `v2=`) are ignored. Null when malformed. */
export function parseSignatureHeader(header: string | null | undefined): ParsedSignature | null {
  if (typeof header !== 'string' || header.length > 4096) return null;
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value)) return null;
      timestamp = Number(value);
    } else if (name === 'v1') {
      if (!/^[0-9a-f]{64}$/i.test(value)) return null;
      signatures.push(value.toLowerCase());
    }
  }
  if (timestamp === undefined || !signatures.length) return null;
  return { timestamp, signatures };
}

export type VerifyFailure = 'malformed_header' | 'timestamp_outside_tolerance' | 'signature_mismatch';

export type VerifyResult = { valid: true; timestamp: number } | { valid: false; reason: VerifyFailure };

export interface VerifyOptions {
  /** How far the signed timestamp may be from `now`, either way (default 300 s). */
  toleranceSeconds?: number;
  /** The receiver's clock (default: the system clock). */
  now?: Date | number;
}

/**
 * Checks a delivery as a receiver: the header is well formed, its timestamp is within the
 * tolerance of `now`, and one of its `v1` signatures is the HMAC of `${t}.${rawBody}` under one
 * of `secret` (pass several while rotating). Pass the body exactly as received, before any JSON
 * parsing. Comparisons are constant time.
 */
export function verifySignature(
  secret: string | readonly string[],
  header: string | null | undefined,
  rawBody: string | Uint8Array,
  options: VerifyOptions = {},
): VerifyResult {
  const parsed = parseSignatureHeader(header);
  if (!parsed) return { valid: false, reason: 'malformed_header' };
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowMs = options.now === undefined ? Date.now() : Number(options.now);
  if (Math.abs(nowMs / 1000 - parsed.timestamp) > tolerance) {
    return { valid: false, reason: 'timestamp_outside_tolerance' };
  }
  const secrets = typeof secret === 'string' ? [secret] : secret;
  let matched = false;
  for (const s of secrets) {
    const expected = Buffer.from(computeSignature(s, parsed.timestamp, rawBody), 'hex');
    for (const candidate of parsed.signatures) {
      // Both are 32 bytes (the parser only admits 64 hex digits); no early exit on a match.
      if (timingSafeEqual(expected, Buffer.from(candidate, 'hex'))) matched = true;
    }
  }
  return matched
    ? { valid: true, timestamp: parsed.timestamp }
    : { valid: false, reason: 'signature_mismatch' };
}
