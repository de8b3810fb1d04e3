import { z } from 'zod';
import { AppError } from '../http/errors.ts';
import { DEFAULT_SETTINGS, type SignInMethod, type WorkspaceSettings } from './model.ts';

/**
 * Workspace names, slugs and settings as the API and the CLI accept them (snake_case on the wire),
 * plus the checks that span several settings. Pure: no storage.
 */
export const SIGN_IN_METHODS: readonly SignInMethod[] = ['password', 'google', 'apple', 'saml'];

export const MIN_ACCESS_TOKEN_TTL = 60;
export const MAX_ACCESS_TOKEN_TTL = 86_400;
export const MAX_REFRESH_TOKEN_TTL = 365 * 86_400;

export const nameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');

export const slugSchema = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
    'expected 1 to 63 lower-case letters, digits or inner hyphens, e.g. "acme-corp"',
  );

/** Headers that carry something else already; a workspace's key header must not shadow them. */
const RESERVED_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'host',
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'x-api-key',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
]);

const ttl = (min: number, max: number) =>
  z
    .number()
    .int('expected a whole number of seconds')
    .min(min, `must be at least ${min} seconds`)
    .max(max, `must be at most ${max} seconds`);

export const settingsPatchSchema = z.strictObject({
  access_token_ttl: ttl(MIN_ACCESS_TOKEN_TTL, MAX_ACCESS_TOKEN_TTL).optional(),
  refresh_token_ttl: ttl(MIN_ACCESS_TOKEN_TTL, MAX_REFRESH_TOKEN_TTL).optional(),
  sign_in_methods: z
    .array(z.enum(SIGN_IN_METHODS as [SignInMethod, ...SignInMethod[]]))
    .min(1, 'at least one sign-in method must stay allowed')
    .refine((a) => new Set(a).size === a.length, 'must not repeat a method')
    .optional(),
  key_prefix: z
    .string()
    .regex(
      /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/,
      'expected lower-case letters and digits, words joined by "_", e.g. "sk" or "vg_key"',
    )
    .max(16, 'must be at most 16 characters')
    .optional(),
  api_key_header: z
    .string()
    .regex(
      /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$/,
      'expected an HTTP header name such as "X-Acme-Key"',
    )
    .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'this header is reserved')
    .nullable()
    .optional(),
});

export type SettingsPatch = z.output<typeof settingsPatchSchema>;

/** The settings after a patch; throws a 400 naming the setting when the whole does not hold together. */
export function applySettingsPatch(current: WorkspaceSettings, patch: SettingsPatch = {}): WorkspaceSettings {
  const next: WorkspaceSettings = {
    accessTokenTtl: patch.access_token_ttl ?? current.accessTokenTtl,
    refreshTokenTtl: patch.refresh_token_ttl ?? current.refreshTokenTtl,
    signInMethods: [...(patch.sign_in_methods ?? current.signInMethods)],
    keyPrefix: patch.key_prefix ?? current.keyPrefix,
  };
  const header = patch.api_key_header === undefined ? current.apiKeyHeader : patch.api_key_header;
  if (header) next.apiKeyHeader = header; // absent rather than undefined: stores keep no empty fields
  if (next.refreshTokenTtl <= next.accessTokenTtl) {
    const field =
      patch.refresh_token_ttl !== undefined ? 'settings.refresh_token_ttl' : 'settings.access_token_ttl';
    throw new AppError(
      400,
      'invalid_request',
      `${field}: refresh tokens must outlive access tokens (refresh_token_ttl ${next.refreshTokenTtl} <= access_token_ttl ${next.accessTokenTtl})`,
      { field },
    );
  }
  return next;
}

export function defaultSettings(patch?: SettingsPatch): WorkspaceSettings {
  return applySettingsPatch(DEFAULT_SETTINGS, patch);
}

export function settingsJson(s: WorkspaceSettings) {
  return {
    access_token_ttl: s.accessTokenTtl,
    refresh_token_ttl: s.refreshTokenTtl,
    sign_in_methods: s.signInMethods,
    key_prefix: s.keyPrefix,
    api_key_header: s.apiKeyHeader ?? null,
  };
}

/** A slug derived from a name: "Acme Café, Inc." → "acme-cafe-inc". */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 48)
    .replace(/^-+|-+$/g, '');
  return slug || 'workspace';
}
