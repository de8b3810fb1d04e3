import { randomInt } from 'node:crypto';
import { type Algorithm, hash, parseOptions, verify } from '@node-rs/argon2';

/**
 * Password hashing with argon2id. The default cost is OWASP's first recommendation
 * (m = 19 MiB, t = 2, p = 1: https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html);
 * settings PASSWORD_HASH_MEMORY_KIB / PASSWORD_HASH_ITERATIONS change it (tests use a cheap one).
 * Hashes carry their own parameters (PHC string), so a changed cost applies to new hashes and to
 * old ones the next time their owner signs in (`needsRehash`).
 */
export interface PasswordHashCost {
  memoryKib: number;
  iterations: number;
}

export const DEFAULT_HASH_COST: PasswordHashCost = { memoryKib: 19_456, iterations: 2 };

// `Algorithm` is an ambient const enum, which isolated modules cannot read: 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

export const PASSWORD_MIN_LENGTH = 8;
/** Long enough for any passphrase, short enough that hashing one is not a denial of service. */
export const PASSWORD_MAX_LENGTH = 256;

/** Why a new password is refused, as a sentence; null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  if (password.trim().length === 0) return 'must not be only spaces';
  return null;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A random password of 24 unambiguous characters (about 140 bits), for generated accounts. */
export function generatePassword(length = 24): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Told of every argon2 verification: of a stored hash (`account`) or of the dummy (`dummy`). */
export type VerificationObserver = (kind: 'account' | 'dummy') => void;

export class PasswordHasher {
  private dummy: Promise<string> | undefined;

  constructor(
    readonly cost: PasswordHashCost = DEFAULT_HASH_COST,
    private readonly observe: VerificationObserver = () => {},
  ) {}

  hash(password: string): Promise<string> {
    return hash(password, {
      algorithm: ARGON2ID,
      memoryCost: this.cost.memoryKib,
      timeCost: this.cost.iterations,
      parallelism: 1,
    });
  }

  /** Constant-time inside argon2; a malformed stored hash is a mismatch, never an exception. */
  verify(stored: string, password: string): Promise<boolean> {
    this.observe('account');
    return this.argon2Verify(stored, password);
  }

  private async argon2Verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the time of one verification and answers false: used when the account is unknown or
   * has no password, so that response times do not tell which emails exist. The dummy is a real
   * argon2id hash at the configured cost, so the work is the same as for a real account.
   */
  async verifyNothing(password: string): Promise<false> {
    this.observe('dummy');
    await this.argon2Verify(await this.dummyHash(), password);
    return false;
  }

  /** The hash `verifyNothing` checks against: made once per process, of a random password. */
  dummyHash(): Promise<string> {
    this.dummy ??= this.hash(generatePassword());
    return this.dummy;
  }

  /** True when the stored hash is not argon2id at the configured cost (rehash on next sign-in). */
  needsRehash(stored: string): boolean {
    try {
      const o = parseOptions(stored);
      return (
        o.algorithm !== ARGON2ID ||
        o.memoryCost !== this.cost.memoryKib ||
        o.timeCost !== this.cost.iterations
      );
    } catch {
      return true;
    }
  }
}
