import { describe, expect, it } from 'vitest';
import { AppError } from '../http/errors.ts';
import { DEFAULT_SETTINGS } from './model.ts';
import {
  applySettingsPatch,
  defaultSettings,
  settingsJson,
  settingsPatchSchema,
  slugify,
  slugSchema,
} from './settings.ts';

describe('workspace settings', () => {
  it('defaults to 4 h access tokens, 30 d refresh tokens, password sign-in and sk keys', () => {
    expect(defaultSettings()).toEqual({
      accessTokenTtl: 14_400,
      refreshTokenTtl: 2_592_000,
      signInMethods: ['password'],
      keyPrefix: 'sk',
    });
    expect(settingsJson(defaultSettings())).toEqual({
      access_token_ttl: 14_400,
      refresh_token_ttl: 2_592_000,
      sign_in_methods: ['password'],
      key_prefix: 'sk',
      api_key_header: null,
    });
  });

  it('applies a patch onto the current settings without touching the defaults', () => {
    const s = applySettingsPatch(DEFAULT_SETTINGS, { access_token_ttl: 600, api_key_header: 'X-Acme-Key' });
    expect(s).toMatchObject({ accessTokenTtl: 600, refreshTokenTtl: 2_592_000, apiKeyHeader: 'X-Acme-Key' });
    expect(DEFAULT_SETTINGS.accessTokenTtl).toBe(14_400);
    expect(applySettingsPatch(s, { api_key_header: null })).not.toHaveProperty('apiKeyHeader');
    expect(applySettingsPatch(s, {}).apiKeyHeader).toBe('X-Acme-Key');
  });

  it('refuses refresh tokens that do not outlive access tokens, naming the setting changed', () => {
    const err = (() => {
      try {
        applySettingsPatch(DEFAULT_SETTINGS, { refresh_token_ttl: 3600 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 400, extra: { field: 'settings.refresh_token_ttl' } });
    const short = { ...DEFAULT_SETTINGS, refreshTokenTtl: 7200 };
    expect(() => applySettingsPatch(short, { access_token_ttl: 7200 })).toThrow(
      /^settings\.access_token_ttl: /,
    );
  });

  it('validates each setting', () => {
    const ok = (v: unknown) => settingsPatchSchema.safeParse(v).success;
    expect(ok({ access_token_ttl: 60, refresh_token_ttl: 365 * 86_400 })).toBe(true);
    expect(ok({ access_token_ttl: 59 })).toBe(false);
    expect(ok({ access_token_ttl: 86_401 })).toBe(false);
    expect(ok({ access_token_ttl: 1.5 })).toBe(false);
    expect(ok({ refresh_token_ttl: 365 * 86_400 + 1 })).toBe(false);
    expect(ok({ sign_in_methods: ['password', 'saml'] })).toBe(true);
    expect(ok({ sign_in_methods: ['password', 'password'] })).toBe(false);
    expect(ok({ sign_in_methods: [] })).toBe(false);
    for (const prefix of ['sk', 'ac', 'vg_key', 'a1']) expect(ok({ key_prefix: prefix }), prefix).toBe(true);
    for (const prefix of ['', 'SK', '_sk', 'sk_', 'a__b', 'sk-live', 'x'.repeat(17)])
      expect(ok({ key_prefix: prefix }), prefix).toBe(false);
    expect(ok({ api_key_header: 'X-SPATIALGEN-APPKEY' })).toBe(true);
    for (const h of ['Authorization', 'cookie', 'X-API-Key', 'Bad Header', 'X:Y', ''])
      expect(ok({ api_key_header: h }), h).toBe(false);
    expect(ok({ colour: 'red' })).toBe(false);
  });
});

describe('slugs', () => {
  it('derives URL-safe slugs from names', () => {
    expect(slugify('Acme Café, Inc.')).toBe('acme-cafe-inc');
    expect(slugify('  --Ünïcödé  Ltd-- ')).toBe('unicode-ltd');
    expect(slugify('東京')).toBe('workspace');
    expect(slugify('x'.repeat(80))).toHaveLength(48);
    for (const name of ['Acme Café, Inc.', '東京', `${'a'.repeat(47)} b`])
      expect(slugSchema.safeParse(slugify(name)).success, name).toBe(true);
  });

  it('accepts only lower-case letters, digits and inner hyphens, up to 63', () => {
    const ok = (s: string) => slugSchema.safeParse(s).success;
    expect(ok('acme')).toBe(true);
    expect(ok('a')).toBe(true);
    expect(ok('acme-corp-2')).toBe(true);
    expect(ok('x'.repeat(63))).toBe(true);
    for (const bad of ['', 'Acme', '-acme', 'acme-', 'ac_me', 'ws_123', 'a b', 'x'.repeat(64)])
      expect(ok(bad), bad).toBe(false);
  });
});
