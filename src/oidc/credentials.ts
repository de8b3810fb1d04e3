import { hash } from 'node:crypto';
import type { ApiKeyRecord } from '../api-keys/model.ts';
import type { OAuthClientRecord } from '../clients/model.ts';

/**
 * Which secret a grant-less (client_credentials) access token was minted with, so that rotating
 * the secret ends the tokens of the old one. At /token, the secret check notes a short fingerprint
 * of the stored digest it matched (`credentialGeneration`); the token carries it as `cgen`; at
 * verification the holder's current fingerprints (the key's secret, and its previous one while a
 * rotation grace period is open) must include it. The fingerprint is a truncated hash of the
 * SHA-256 digest, not the digest: nothing about the secret can be recovered from a token.
 * Tokens minted before `cgen` existed fall back to their `iat` against the rotation time.
 */
export const CREDENTIAL_GENERATION_CLAIM = 'cgen';

export function credentialGeneration(storedDigestHex: string): string {
  let g = generations.get(storedDigestHex);
  if (g === undefined) {
    g = hash('sha256', `gatehouse-cgen:${storedDigestHex}`, 'base64url').slice(0, 16);
    // Asked on every client_credentials token: remembered, within a bound.
    if (generations.size >= 10_000) generations.clear();
    generations.set(storedDigestHex, g);
  }
  return g;
}

const generations = new Map<string, string>();

/** What a grant-less token's holder is now: the checks verification applies to its tokens. */
export interface GrantlessHolder {
  /** The fingerprints of the secrets that currently authenticate the holder. */
  generations: string[];
  /** The last rotation whose grace is over: legacy tokens (no `cgen`) issued before it are refused. */
  rotatedAt: Date | null;
  /** The scopes the holder has now: its tokens keep only these ('all': keep what they carry). */
  scopes: string[] | 'all';
}

export function keyHolder(key: ApiKeyRecord, now: Date): GrantlessHolder {
  const grace = !!key.previousDigest && !!key.previousDigestExpiresAt && key.previousDigestExpiresAt > now;
  return {
    generations: [
      credentialGeneration(key.digest),
      ...(grace ? [credentialGeneration(key.previousDigest!)] : []),
    ],
    rotatedAt: grace ? null : key.rotatedAt,
    scopes: key.grantAll ? 'all' : key.scopes,
  };
}

export function registeredClientHolder(client: OAuthClientRecord): GrantlessHolder {
  return {
    generations: client.secretDigest ? [credentialGeneration(client.secretDigest)] : [],
    rotatedAt: client.secretRotatedAt,
    scopes: 'all',
  };
}
