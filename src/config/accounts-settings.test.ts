import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.ts';

const noFiles = { GATEHOUSE_CONFIG_DIR: join(tmpdir(), 'gatehouse-absent-config') };
const production = {
  ...noFiles,
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://id.example.com',
  COOKIE_SECRETS: 'a'.repeat(32),
  MONGODB_URI: 'mongodb://db/gh',
  WEBHOOK_SECRETS_KEY: 'ab'.repeat(32),
};

function reason(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('accounts settings', () => {
  it('defaults to OWASP argon2id cost and the admin@localhost bootstrap owner', () => {
    const { config, warnings } = loadConfig(noFiles);
    expect(config.passwordHashing).toEqual({ memoryKib: 19_456, iterations: 2 });
    expect(config.bootstrapAdmin).toEqual({ email: 'admin@localhost', password: undefined });
    expect(warnings.some((w) => w.startsWith('PASSWORD_HASH'))).toBe(false);
  });

  it('reads the hash cost and the bootstrap owner', () => {
    const { config } = loadConfig({
      ...noFiles,
      PASSWORD_HASH_MEMORY_KIB: '47104',
      PASSWORD_HASH_ITERATIONS: '1',
      BOOTSTRAP_ADMIN_EMAIL: ' root@example.com ',
      BOOTSTRAP_ADMIN_PASSWORD: 'a long admin password',
    });
    expect(config.passwordHashing).toEqual({ memoryKib: 47_104, iterations: 1 });
    expect(config.bootstrapAdmin).toEqual({ email: 'root@example.com', password: 'a long admin password' });
  });

  it('names the bad setting', () => {
    expect(reason({ ...noFiles, PASSWORD_HASH_MEMORY_KIB: 'lots' })).toMatch(/^PASSWORD_HASH_MEMORY_KIB: /);
    expect(reason({ ...noFiles, PASSWORD_HASH_MEMORY_KIB: '512' })).toMatch(
      /^PASSWORD_HASH_MEMORY_KIB: expected at least 1024 KiB/,
    );
    expect(reason({ ...noFiles, PASSWORD_HASH_ITERATIONS: '0' })).toMatch(
      /^PASSWORD_HASH_ITERATIONS: expected at least 1/,
    );
    expect(reason({ ...noFiles, BOOTSTRAP_ADMIN_EMAIL: 'root' })).toBe(
      'BOOTSTRAP_ADMIN_EMAIL: expected an email address, got "root"',
    );
    expect(reason({ ...noFiles, BOOTSTRAP_ADMIN_PASSWORD: 'short' })).toMatch(
      /^BOOTSTRAP_ADMIN_PASSWORD: must be at least 8 characters/,
    );
  });

  it('warns about a cost below OWASP and refuses it in production', () => {
    const cheap = { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' };
    expect(
      loadConfig({ ...noFiles, ...cheap }).warnings.filter((w) => w.startsWith('PASSWORD_HASH')),
    ).toEqual([
      'PASSWORD_HASH_MEMORY_KIB 1024 KiB x 1 iteration(s) is below the OWASP minimum for argon2id (19456 KiB x 2)',
    ]);
    expect(reason({ ...production, ...cheap })).toMatch(
      /^PASSWORD_HASH_MEMORY_KIB: .*refused with NODE_ENV=production/,
    );
    // OWASP's equivalent pairings pass.
    for (const [m, t] of [
      ['47104', '1'],
      ['12288', '3'],
      ['7168', '5'],
    ]) {
      expect(
        loadConfig({ ...production, PASSWORD_HASH_MEMORY_KIB: m!, PASSWORD_HASH_ITERATIONS: t! }).warnings,
      ).toEqual([]);
    }
  });

  it('defaults the login API rate limits to DESIGN.md numbers, and reads others', () => {
    expect(loadConfig(noFiles).config.authRateLimits).toEqual({
      windowSeconds: 60,
      loginPerIp: 60,
      loginPerEmail: 15,
      refreshPerToken: 30,
      refreshPerIp: 100,
    });
    const { config } = loadConfig({
      ...noFiles,
      AUTH_RATE_WINDOW_SECONDS: '120',
      AUTH_LOGIN_LIMIT_PER_IP: '600',
      AUTH_LOGIN_LIMIT_PER_EMAIL: '5',
      AUTH_REFRESH_LIMIT_PER_TOKEN: '10',
      AUTH_REFRESH_LIMIT_PER_IP: '1000',
    });
    expect(config.authRateLimits).toEqual({
      windowSeconds: 120,
      loginPerIp: 600,
      loginPerEmail: 5,
      refreshPerToken: 10,
      refreshPerIp: 1000,
    });
    expect(reason({ ...noFiles, AUTH_LOGIN_LIMIT_PER_EMAIL: '0' })).toMatch(
      /^AUTH_LOGIN_LIMIT_PER_EMAIL: expected a positive number/,
    );
    expect(reason({ ...noFiles, AUTH_RATE_WINDOW_SECONDS: 'a minute' })).toMatch(
      /^AUTH_RATE_WINDOW_SECONDS: /,
    );
  });
});
