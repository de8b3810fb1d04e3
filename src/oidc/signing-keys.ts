import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from 'jose';
import { type Clock, DuplicateKeyError, type Storage } from '../storage/index.ts';

export type SigningAlg = 'ES256' | 'RS256';
export const SIGNING_ALGS: SigningAlg[] = ['ES256', 'RS256'];

export interface StoredSigningKey {
  kid: string;
  alg: SigningAlg;
  jwk: JWK; // private
  createdAt: Date;
  /** Set when a newer key of the same alg took over signing; the key stays published until `removeAfter`. */
  retiredAt?: Date;
  removeAfter?: Date;
}

interface KeySetDoc {
  id: 'signing-keys';
  version: number;
  keys: StoredSigningKey[];
}

interface SecretDoc {
  id: 'cookie-secrets';
  secrets: string[];
}

const SECRETS = { name: 'secrets' };

export async function generateSigningKey(alg: SigningAlg, clock: Clock): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg, jwk: { ...jwk, kid, alg, use: 'sig' }, createdAt: clock.now() };
}

/**
 * The signing keys, generated on first start and kept in the store so that every process and
 * every restart serves the same `kid`s. Concurrent first starts race on one document id: the
 * loser reads the winner's keys.
 */
export class SigningKeyStore {
  private readonly docs;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
  ) {
    this.docs = storage.collection<KeySetDoc | SecretDoc>(SECRETS);
  }

  async load(): Promise<StoredSigningKey[]> {
    const existing = (await this.docs.get('signing-keys')) as KeySetDoc | null;
    if (existing) return this.live(existing.keys);
    const keys = await Promise.all(SIGNING_ALGS.map((alg) => generateSigningKey(alg, this.clock)));
    try {
      await this.docs.insert({ id: 'signing-keys', version: 1, keys });
      return keys;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      return this.live(((await this.docs.get('signing-keys')) as KeySetDoc).keys);
    }
  }

  /** Keys still published, the signing key of each alg (the newest unretired one) first. */
  private live(keys: StoredSigningKey[]): StoredSigningKey[] {
    const now = this.clock.now().getTime();
    return keys
      .filter((k) => !k.removeAfter || k.removeAfter.getTime() > now)
      .sort(
        (a, b) =>
          Number(!!a.retiredAt) - Number(!!b.retiredAt) || b.createdAt.getTime() - a.createdAt.getTime(),
      );
  }

  /**
   * Publishes a new key per alg and signs with it from now on; the old ones stay in JWKS for
   * `retainSeconds` (at least the longest token lifetime) so that tokens they signed still verify.
   */
  async rotate(retainSeconds: number): Promise<StoredSigningKey[]> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = (await this.docs.get('signing-keys')) as KeySetDoc | null;
      if (!current) {
        await this.load();
        continue;
      }
      const now = this.clock.now();
      const removeAfter = new Date(now.getTime() + retainSeconds * 1000);
      const fresh = await Promise.all(SIGNING_ALGS.map((alg) => generateSigningKey(alg, this.clock)));
      const kept = this.live(current.keys).map((k) =>
        k.retiredAt ? k : { ...k, retiredAt: now, removeAfter },
      );
      const updated = await this.docs.update(
        { id: 'signing-keys', version: current.version },
        { set: { keys: [...fresh, ...kept], version: current.version + 1 } },
      );
      if (updated) return this.live((updated as KeySetDoc).keys);
    }
    throw new Error('signing key rotation kept conflicting with another process; try again');
  }

  /** Cookie signing secrets for development, generated once and kept, so restarts keep sessions. */
  async cookieSecrets(): Promise<string[]> {
    const existing = (await this.docs.get('cookie-secrets')) as SecretDoc | null;
    if (existing) return existing.secrets;
    const secrets = [randomBytes(32).toString('base64url')];
    try {
      await this.docs.insert({ id: 'cookie-secrets', secrets });
      return secrets;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
      return ((await this.docs.get('cookie-secrets')) as SecretDoc).secrets;
    }
  }
}

function publicJwk(k: StoredSigningKey): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = k.jwk;
  return pub;
}

/**
 * The keys this process signs and verifies with, kept in step with the store: `refresh()` (run
 * by the poller every `pollMs`, and right after a rotation through the admin API) picks up keys
 * another process (`gatehouse keys rotate-signing`) published, and drops retired keys once their
 * `removeAfter` has passed. `onChange` hands the new set to the provider.
 */
export class SigningKeyRing {
  private keys: StoredSigningKey[];
  private verifier: ReturnType<typeof createLocalJWKSet>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: SigningKeyStore,
    initial: StoredSigningKey[],
    private readonly onChange: (keys: StoredSigningKey[]) => void,
  ) {
    this.keys = initial;
    this.verifier = createLocalJWKSet({ keys: initial.map(publicJwk) });
  }

  /** Every published key (signing and retired), newest signing key of each alg first. */
  current(): StoredSigningKey[] {
    return this.keys;
  }

  /** The published public keys, for verifying tokens we issued. */
  jwks(): ReturnType<typeof createLocalJWKSet> {
    return this.verifier;
  }

  /** Reloads the published set; true when it changed (and the provider now uses the new one). */
  async refresh(): Promise<boolean> {
    const next = await this.store.load();
    const fingerprint = (ks: StoredSigningKey[]) => ks.map((k) => k.kid).join(' ');
    if (fingerprint(next) === fingerprint(this.keys)) return false;
    this.onChange(next);
    this.keys = next;
    this.verifier = createLocalJWKSet({ keys: next.map(publicJwk) });
    return true;
  }

  /** Rotates in the store, then applies the new set here at once (other processes follow on their poll). */
  async rotate(retainSeconds: number): Promise<StoredSigningKey[]> {
    await this.store.rotate(retainSeconds);
    await this.refresh();
    return this.keys;
  }

  start(pollMs: number, onError: (err: unknown) => void): void {
    this.stop();
    this.timer = setInterval(() => {
      this.refresh().catch(onError);
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
