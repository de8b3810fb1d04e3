import { z } from 'zod';
import { presetName, scopeName } from '../workspaces/scopes.ts';
import { KEY_ENVIRONMENTS } from './format.ts';
import type { Metadata } from './model.ts';
import type { VerifyRequest } from './verify.ts';

/**
 * Inputs of the key service (camelCase, what the CLI and routes hand it), and the snake_case
 * request bodies of the API that map onto them. The service parses its own input too, so every
 * caller gets the same 400 naming the bad field.
 */
export const MAX_METADATA_BYTES = 2048;
export const MAX_GRACE_SECONDS = 7 * 86_400;
export const TEMPORARY_KEY_LIFETIME_MS = 7 * 86_400_000;

const instant = z
  .union([z.date(), z.iso.datetime({ offset: true }).transform((s) => new Date(s))])
  .refine((d) => Number.isFinite(d.getTime()), 'not a valid date');

export const metadataInput = z
  .record(
    z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'metadata keys are 1-40 letters, digits, _ or -'),
    z.union([z.string().max(500), z.number().refine(Number.isFinite), z.boolean(), z.null()]),
  )
  .refine((m) => Object.keys(m).length <= 20, 'at most 20 metadata entries')
  .refine(
    (m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES,
    `metadata is at most ${MAX_METADATA_BYTES} bytes of JSON`,
  )
  .transform((m) => m as Metadata);

export const rateLimitInput = z.strictObject({
  requests: z.number().int().min(1).max(1_000_000),
  windowSeconds: z.number().int().min(1).max(86_400),
});

const keyName = z.string().trim().min(1, 'a key needs a name').max(100);
const scopeList = z.array(scopeName).max(200);

export const createKeyInput = z.strictObject({
  name: keyName,
  environment: z.enum(KEY_ENVIRONMENTS).default('live'),
  scopes: scopeList.optional(),
  preset: presetName.optional(),
  /** Every current and future scope: never implied, only this flag grants it. */
  grantAll: z.boolean().default(false),
  /** Expires after 7 days unless `expiresAt` says otherwise. */
  temporary: z.boolean().default(false),
  expiresAt: instant.nullable().optional(),
  rateLimit: rateLimitInput.nullable().optional(),
  metadata: metadataInput.default({}),
});
export type CreateKeyInput = z.input<typeof createKeyInput>;

export const updateKeyInput = z.strictObject({
  name: keyName.optional(),
  scopes: scopeList.optional(),
  preset: presetName.optional(),
  grantAll: z.boolean().optional(),
  /** null removes the expiry. */
  expiresAt: instant.nullable().optional(),
  rateLimit: rateLimitInput.nullable().optional(),
  metadata: metadataInput.optional(),
});
export type UpdateKeyInput = z.input<typeof updateKeyInput>;

export const rotateKeyInput = z.strictObject({
  /** Keep the old secret working this long (default 0: invalid at once). */
  graceSeconds: z.number().int().min(0).max(MAX_GRACE_SECONDS).default(0),
});
export type RotateKeyInput = z.input<typeof rotateKeyInput>;

export const verifyKeyInput = z.strictObject({
  key: z.string(),
  /** Only keys of this workspace are valid (a resource server of one workspace). */
  workspaceId: z.string().min(1).max(100).optional(),
  requiredScopes: z.array(z.string().max(100)).max(50).default([]),
  cost: z.number().int().min(0).max(1_000_000).default(0),
  ip: z.string().max(100).nullable().optional(),
});
export type VerifyKeyInput = z.input<typeof verifyKeyInput>;

// --- the API's request bodies (snake_case) ------------------------------------------------------
// The same constraints as the service inputs, so a bad value is named by its API field.

const rateLimitBody = z
  .strictObject({
    requests: rateLimitInput.shape.requests,
    window_seconds: rateLimitInput.shape.windowSeconds,
  })
  .transform((r) => ({ requests: r.requests, windowSeconds: r.window_seconds }));
const isoDate = z.iso.datetime({ offset: true });

export const createKeyBody = z
  .strictObject({
    name: keyName,
    environment: z.enum(KEY_ENVIRONMENTS).optional(),
    scopes: scopeList.optional(),
    preset: presetName.optional(),
    grant_all: z.boolean().optional(),
    temporary: z.boolean().optional(),
    expires_at: isoDate.nullable().optional(),
    rate_limit: rateLimitBody.nullable().optional(),
    metadata: metadataInput.optional(),
  })
  .transform(
    (b): CreateKeyInput => ({
      name: b.name,
      environment: b.environment,
      scopes: b.scopes,
      preset: b.preset,
      grantAll: b.grant_all,
      temporary: b.temporary,
      expiresAt: b.expires_at,
      rateLimit: b.rate_limit,
      metadata: b.metadata,
    }),
  );

export const updateKeyBody = z
  .strictObject({
    name: keyName.optional(),
    scopes: scopeList.optional(),
    preset: presetName.optional(),
    grant_all: z.boolean().optional(),
    expires_at: isoDate.nullable().optional(),
    rate_limit: rateLimitBody.nullable().optional(),
    metadata: metadataInput.optional(),
  })
  .transform(
    (b): UpdateKeyInput => ({
      name: b.name,
      scopes: b.scopes,
      preset: b.preset,
      grantAll: b.grant_all,
      expiresAt: b.expires_at,
      rateLimit: b.rate_limit,
      metadata: b.metadata,
    }),
  );

export const rotateKeyBody = z
  .strictObject({ grace_seconds: rotateKeyInput.shape.graceSeconds })
  .transform((b): RotateKeyInput => ({ graceSeconds: b.grace_seconds }));

export const listKeysInput = z.strictObject({
  status: z.enum(['active', 'revoked', 'expired']).optional(),
  environment: z.enum(KEY_ENVIRONMENTS).optional(),
  limit: z.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** The query string of `GET /api/v1/keys` (same fields; numbers arrive as text). */
export const listKeysQuery = z.strictObject({
  status: z.enum(['active', 'revoked', 'expired']).optional(),
  environment: z.enum(KEY_ENVIRONMENTS).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** The body of `POST /api/v1/keys/verify` (a resource server asking about a key). */
export const verifyKeyBody = z
  .strictObject({
    key: z.string().max(200),
    required_scopes: z.array(z.string().max(100)).max(50).optional(),
    cost: z.number().int().min(0).max(1_000_000).optional(),
    /** The end user's address, for the key's "last used from" (default: the caller's). */
    ip: z.string().max(100).optional(),
    /** A resource server of one workspace: keys of any other are `key_invalid`. */
    workspace_id: z.string().min(1).max(100).optional(),
  })
  // Whole (defaults applied): the service takes it as is, without validating it a second time.
  .transform(
    (b): VerifyRequest => ({
      key: b.key,
      requiredScopes: b.required_scopes ?? [],
      cost: b.cost ?? 0,
      ...(b.ip ? { ip: b.ip } : {}),
      ...(b.workspace_id ? { workspaceId: b.workspace_id } : {}),
    }),
  );
