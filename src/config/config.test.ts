import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './index.ts';

const noFiles = { GATEHOUSE_CONFIG_DIR: join(tmpdir(), 'gatehouse-absent-config') };

function reason(env: Record<string, string>): string {
  try {
    loadConfig({ ...noFiles, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has working development defaults and warns about each unsafe one', () => {
    const { config, warnings } = loadConfig(noFiles);
    expect(config).toMatchObject({
      port: 3000,
      issuer: 'http://localhost:3000',
      storage: { kind: 'embedded' },
    });
    expect(warnings.map((w) => w.split(' ')[0])).toEqual([
      'COOKIE_SECRETS',
      'STORAGE',
      'PUBLIC_URL',
      'WEBHOOK_SECRETS_KEY',
    ]);
  });

  it('names the bad setting and the value', () => {
    expect(reason({ PORT: 'abc' })).toBe('PORT: expected a port number, got "abc"');
    expect(reason({ PORT: '70000' })).toMatch(/^PORT: expected a port number from 0 to 65535/);
    expect(reason({ PUBLIC_URL: 'not a url' })).toMatch(/^PUBLIC_URL: expected an absolute URL/);
    expect(reason({ MONGODB_URI: 'http://x' })).toMatch(/^MONGODB_URI: expected a mongodb:\/\//);
    expect(reason({ STORAGE: 'mongo' })).toBe('MONGODB_URI: required when STORAGE=mongo');
    expect(reason({ COOKIE_SECRETS: 'short' })).toMatch(/^COOKIE_SECRETS: each secret must be at least 32/);
    expect(reason({ LOG_LEVEL: 'loud' })).toMatch(/^LOG_LEVEL: /);
  });

  it('chooses MongoDB when MONGODB_URI is set', () => {
    const { config } = loadConfig({ ...noFiles, MONGODB_URI: 'mongodb://db:27017/gh' });
    expect(config.storage).toEqual({ kind: 'mongo', uri: 'mongodb://db:27017/gh', timeoutMs: 5000 });
  });

  describe('NODE_ENV=production', () => {
    const safe = {
      ...noFiles,
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://id.example.com',
      COOKIE_SECRETS: 'a'.repeat(32),
      MONGODB_URI: 'mongodb://db/gh',
      WEBHOOK_SECRETS_KEY: 'b'.repeat(64),
    };
    it('accepts an explicit, safe configuration with no warnings', () => {
      expect(loadConfig(safe).warnings).toEqual([]);
    });
    it('refuses generated cookie secrets', () => {
      expect(reason({ ...safe, COOKIE_SECRETS: '' })).toMatch(
        /^COOKIE_SECRETS: .*refused with NODE_ENV=production/,
      );
    });
    it('needs MongoDB unless the embedded store is asked for explicitly', () => {
      const { MONGODB_URI: _, ...noMongo } = safe;
      expect(reason(noMongo)).toMatch(/^STORAGE: /);
      expect(loadConfig({ ...noMongo, STORAGE: 'embedded' }).config.storage.kind).toBe('embedded');
    });
    it('refuses webhook secrets sealed under a key kept in the store', () => {
      const { WEBHOOK_SECRETS_KEY: _, ...noKey } = safe;
      expect(reason(noKey)).toMatch(/^WEBHOOK_SECRETS_KEY: .*refused with NODE_ENV=production/);
      expect(reason({ ...safe, WEBHOOK_SECRETS_KEY: 'short' })).toMatch(
        /^WEBHOOK_SECRETS_KEY: each key must be 32 bytes/,
      );
    });
    it('refuses a plain-http issuer', () => {
      expect(reason({ ...safe, PUBLIC_URL: 'http://id.example.com' })).toMatch(/^PUBLIC_URL: is plain http/);
    });
  });

  it('reads config/default.json and config/<env>.json under the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-config-'));
    writeFileSync(join(dir, 'default.json'), JSON.stringify({ PORT: 4000, LOG_LEVEL: 'debug' }));
    writeFileSync(join(dir, 'test.json'), JSON.stringify({ PORT: 4100 }));
    const { config } = loadConfig({ GATEHOUSE_CONFIG_DIR: dir, NODE_ENV: 'test', LOG_LEVEL: 'warn' });
    expect(config.port).toBe(4100);
    expect(config.logLevel).toBe('warn');
    writeFileSync(join(dir, 'test.json'), '{ nope');
    expect(() => loadConfig({ GATEHOUSE_CONFIG_DIR: dir, NODE_ENV: 'test' })).toThrow(/test\.json: /);
  });
});
