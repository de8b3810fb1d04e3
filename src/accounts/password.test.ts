import { describe, expect, it } from 'vitest';
import { DEFAULT_HASH_COST, generatePassword, PasswordHasher, passwordProblem } from './password.ts';

const cheap = new PasswordHasher({ memoryKib: 1024, iterations: 1 });

describe('password hashing', () => {
  it('defaults to OWASP argon2id parameters', async () => {
    expect(DEFAULT_HASH_COST).toEqual({ memoryKib: 19_456, iterations: 2 });
    const h = await new PasswordHasher().hash('correct horse battery');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const h = await cheap.hash('correct horse battery');
    expect(h).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(await cheap.verify(h, 'correct horse battery')).toBe(true);
    expect(await cheap.verify(h, 'correct horse batterY')).toBe(false);
    expect(await cheap.verify(h, '')).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    expect(await cheap.hash('same password')).not.toBe(await cheap.hash('same password'));
  });

  it('treats a malformed stored hash as a mismatch', async () => {
    expect(await cheap.verify('not-a-hash', 'whatever1')).toBe(false);
    expect(await cheap.verify('$argon2id$v=19$m=1024,t=1,p=1$broken', 'whatever1')).toBe(false);
  });

  it('spends a verification on unknown accounts and answers false', async () => {
    expect(await cheap.verifyNothing('anything at all')).toBe(false);
  });

  it('verifies unknown accounts against a real argon2id hash at the configured cost', async () => {
    const seen: string[] = [];
    const hasher = new PasswordHasher({ memoryKib: 2048, iterations: 3 }, (kind) => seen.push(kind));
    const dummy = await hasher.dummyHash();
    // Same algorithm and parameters as an account's hash: the same work per attempt.
    const real = await hasher.hash('correct horse battery');
    expect(dummy.split('$').slice(0, 4)).toEqual(real.split('$').slice(0, 4));
    expect(dummy).toMatch(/^\$argon2id\$v=19\$m=2048,t=3,p=1\$/);
    expect(await hasher.dummyHash()).toBe(dummy); // made once
    expect(await hasher.verifyNothing('correct horse battery')).toBe(false);
    expect(await hasher.verify(real, 'correct horse battery')).toBe(true);
    expect(seen).toEqual(['dummy', 'account']);
  });

  it('asks for a rehash when the cost changed or the hash is not argon2id', async () => {
    const h = await cheap.hash('correct horse battery');
    expect(cheap.needsRehash(h)).toBe(false);
    expect(new PasswordHasher({ memoryKib: 2048, iterations: 1 }).needsRehash(h)).toBe(true);
    expect(new PasswordHasher({ memoryKib: 1024, iterations: 2 }).needsRehash(h)).toBe(true);
    expect(cheap.needsRehash('$2b$10$abcdefghijklmnopqrstuv')).toBe(true);
  });
});

describe('password policy', () => {
  it('accepts 8 to 256 characters that are not only spaces', () => {
    expect(passwordProblem('12345678')).toBeNull();
    expect(passwordProblem('a'.repeat(256))).toBeNull();
    expect(passwordProblem('1234567')).toMatch(/at least 8/);
    expect(passwordProblem('a'.repeat(257))).toMatch(/at most 256/);
    expect(passwordProblem('         ')).toMatch(/spaces/);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(passwordProblem('🔑🔑🔑🔑')).toMatch(/at least 8/);
    expect(passwordProblem('🔑'.repeat(8))).toBeNull();
  });

  it('generates long random passwords that pass the policy', () => {
    const a = generatePassword();
    expect(a).toHaveLength(24);
    expect(a).toMatch(/^[A-Za-z2-9]+$/);
    expect(passwordProblem(a)).toBeNull();
    expect(generatePassword()).not.toBe(a);
  });
});
