import { describe, expect, it } from 'vitest';
import {
  computeSignature,
  generateSigningSecret,
  parseSignatureHeader,
  signatureHeader,
  verifySignature,
} from './signature.ts';

// Vectors computed independently with:
//   printf '%s' '1700000000.{"id":"evt_1","type":"key.created"}' | openssl dgst -sha256 -hmac '<secret>' -hex
const SECRET = 'whsec_MfKQ9r8GKYqrTywafh9rBe0vUCwA2lXT';
const OLD_SECRET = 'whsec_previous_secret_still_valid';
const BODY = '{"id":"evt_1","type":"key.created"}';
const T = 1_700_000_000;
const SIG = 'c37a130c4f71907c983dea171411d464d3931244914556ec45a5f5b5efcd6519';
const OLD_SIG = '1c7ebf1cee0fe7a49ff5435256f4b5d7b6bd6dadd6df8e755d2d31972b9b5105';
const at = (seconds: number) => new Date(seconds * 1000);

describe('webhook signatures', () => {
  it('matches independently computed HMAC-SHA256 vectors', () => {
    expect(computeSignature(SECRET, T, BODY)).toBe(SIG);
    expect(computeSignature(SECRET, T, Buffer.from(BODY))).toBe(SIG);
    expect(signatureHeader([SECRET], T, BODY)).toBe(`t=${T},v1=${SIG}`);
    expect(signatureHeader([SECRET, OLD_SECRET], T, BODY)).toBe(`t=${T},v1=${SIG},v1=${OLD_SIG}`);
  });

  it('generates whsec_ secrets with 256 bits of randomness', () => {
    const a = generateSigningSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(generateSigningSecret()).not.toBe(a);
  });

  it('verifies a fresh signature, with either secret during a rotation', () => {
    const header = signatureHeader([SECRET, OLD_SECRET], T, BODY);
    expect(verifySignature(SECRET, header, BODY, { now: at(T) })).toEqual({ valid: true, timestamp: T });
    expect(verifySignature(OLD_SECRET, header, BODY, { now: at(T) }).valid).toBe(true);
    // a receiver that already knows the new secret but holds both also passes on an old-only header
    expect(verifySignature([SECRET, OLD_SECRET], `t=${T},v1=${OLD_SIG}`, BODY, { now: at(T) }).valid).toBe(
      true,
    );
  });

  it('accepts timestamps within the tolerance either way and refuses beyond it', () => {
    const header = signatureHeader([SECRET], T, BODY);
    expect(verifySignature(SECRET, header, BODY, { now: at(T + 300) }).valid).toBe(true);
    expect(verifySignature(SECRET, header, BODY, { now: at(T - 300) }).valid).toBe(true);
    expect(verifySignature(SECRET, header, BODY, { now: at(T + 301) })).toEqual({
      valid: false,
      reason: 'timestamp_outside_tolerance',
    });
    expect(verifySignature(SECRET, header, BODY, { now: at(T - 301) }).valid).toBe(false);
    expect(verifySignature(SECRET, header, BODY, { now: at(T + 60), toleranceSeconds: 30 }).valid).toBe(
      false,
    );
    expect(verifySignature(SECRET, header, BODY, { now: (T + 20) * 1000, toleranceSeconds: 30 }).valid).toBe(
      true,
    );
  });

  it('refuses a tampered body, a moved timestamp and a wrong secret', () => {
    const header = signatureHeader([SECRET], T, BODY);
    const tampered = BODY.replace('created', 'revoked');
    expect(verifySignature(SECRET, header, tampered, { now: at(T) })).toEqual({
      valid: false,
      reason: 'signature_mismatch',
    });
    expect(verifySignature(SECRET, `${header} `, `${BODY} `, { now: at(T) }).valid).toBe(false);
    // replaying the body with a fresh timestamp but the old signature
    expect(verifySignature(SECRET, `t=${T + 100},v1=${SIG}`, BODY, { now: at(T + 100) }).valid).toBe(false);
    expect(verifySignature(OLD_SECRET, header, BODY, { now: at(T) }).valid).toBe(false);
  });

  it('refuses malformed headers', () => {
    for (const h of [
      undefined,
      null,
      '',
      `v1=${SIG}`,
      `t=${T}`,
      `t=${T},v1=zz`,
      `t=abc,v1=${SIG}`,
      `t=${T},t=${T},v1=${SIG}`,
      `t=${T},v1=${SIG.slice(2)}`,
      'garbage',
      `t=${T},v1=${SIG},${'x'.repeat(5000)}`,
    ]) {
      expect(verifySignature(SECRET, h, BODY, { now: at(T) })).toEqual({
        valid: false,
        reason: 'malformed_header',
      });
    }
  });

  it('parses tolerant of spacing and ignores unknown schemes', () => {
    expect(parseSignatureHeader(`t=${T}, v1=${SIG.toUpperCase()}, v2=whatever`)).toEqual({
      timestamp: T,
      signatures: [SIG],
    });
  });

  it('refuses to sign without a secret or with a bad timestamp', () => {
    expect(() => signatureHeader([], T, BODY)).toThrow();
    expect(() => signatureHeader([SECRET], 1.5, BODY)).toThrow();
  });
});
