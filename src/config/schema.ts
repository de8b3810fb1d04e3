import { z } from 'zod';

/**
 * Every setting Gatehouse reads, with its default. Keys are the environment variable names;
 * files in `config/` use the same names. Defaults that are unsafe in production are listed in
 * `unsafeDefaults()` and refused when NODE_ENV=production.
 */
const port = z.coerce
  .number({ error: 'expected a port number' })
  .int('expected a whole port number')
  .min(0, 'expected a port number from 0 to 65535')
  .max(65535, 'expected a port number from 0 to 65535');

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number().int('expected a whole number').positive('expected a positive number');

/** A comma-separated list (blanks dropped), each item checked by `item`. */
const commaList = (item: z.ZodString, atLeastOne: string) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1, atLeastOne));

const secretList = commaList(
  z.string().min(32, 'each secret must be at least 32 characters'),
  'expected at least one secret',
);

export const configSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: port.default(3000),
    PUBLIC_URL: z.url({ error: 'expected an absolute URL such as https://id.example.com' }).optional(),
    STORAGE: z.enum(['embedded', 'mongo']).optional(),
    MONGODB_URI: z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'expected a mongodb:// or mongodb+srv:// URI')
      .optional(),
    MONGODB_TIMEOUT_MS: positiveInt.default(5000),
    DATA_DIR: z.string().min(1).default('./data'),
    COOKIE_SECRETS: secretList.optional(),
    TRUST_PROXY: bool.default(false),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
    TTL_SWEEP_INTERVAL_MS: positiveInt.default(60_000),
    // How often each process looks for signing keys published by another (`gatehouse keys rotate-signing`).
    SIGNING_KEYS_POLL_MS: positiveInt.default(30_000),
    // Login API: a spent refresh token presented again within this many seconds answers the same new pair.
    REFRESH_TOKEN_REUSE_GRACE_SECONDS: z.coerce
      .number()
      .int('expected a whole number')
      .min(0)
      .max(60)
      .default(0),
    // argon2id cost of password hashes (OWASP: m=19456 KiB, t=2); lower only for tests.
    PASSWORD_HASH_MEMORY_KIB: z.coerce
      .number()
      .int('expected a whole number of KiB')
      .min(1024, 'expected at least 1024 KiB')
      .max(4_194_304, 'expected at most 4194304 KiB (4 GiB)')
      .default(19_456),
    PASSWORD_HASH_ITERATIONS: z.coerce
      .number()
      .int('expected a whole number')
      .min(1, 'expected at least 1')
      .max(50, 'expected at most 50')
      .default(2),
    BOOTSTRAP_ADMIN_EMAIL: z
      .string()
      .trim()
      .pipe(z.email({ pattern: z.regexes.html5Email, error: 'expected an email address' }))
      .optional(),
    BOOTSTRAP_ADMIN_PASSWORD: z
      .string()
      .min(8, 'must be at least 8 characters')
      .max(256, 'must be at most 256 characters')
      .optional(),
    // Login API rate limits (src/auth/rate-limits.ts): requests per window, shared by every
    // process on one store. Defaults are DESIGN.md's: login 60/IP and 15/email, refresh 30/token
    // and 100/IP, per minute.
    AUTH_RATE_WINDOW_SECONDS: positiveInt.default(60),
    AUTH_LOGIN_LIMIT_PER_IP: positiveInt.default(60),
    AUTH_LOGIN_LIMIT_PER_EMAIL: positiveInt.default(15),
    AUTH_REFRESH_LIMIT_PER_TOKEN: positiveInt.default(30),
    AUTH_REFRESH_LIMIT_PER_IP: positiveInt.default(100),
    // Webhook signing secrets are sealed (AES-256-GCM) under these keys, newest first; each is 32
    // bytes as base64url (43 characters) or 64 hex digits. Unset: a key kept in the store (dev only).
    WEBHOOK_SECRETS_KEY: commaList(
      z
        .string()
        .regex(
          /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9_-]{43}=?)$/,
          'each key must be 32 bytes: 64 hex digits or 43 base64url characters',
        ),
      'expected at least one key',
    ).optional(),
    // First retry delay of a failed webhook delivery (doubles per attempt, jittered, capped at 1 h).
    WEBHOOK_RETRY_BASE_MS: positiveInt.default(30_000),
    // `key.expiring` goes out this long before a key expires; keys are scanned this often.
    WEBHOOK_EXPIRING_LEAD_SECONDS: positiveInt.default(3 * 86_400),
    WEBHOOK_EXPIRING_SCAN_MS: positiveInt.default(15 * 60_000),
    // How often the coalesced "last used" of API keys is written.
    API_KEY_USAGE_FLUSH_MS: positiveInt.default(30_000),
    // `credits.low` fires when a charge takes a workspace's balance to this or below (0: never).
    CREDITS_LOW_THRESHOLD: z.coerce.number().int('expected a whole number').min(0).default(10),
    // MongoDB: how long a process may answer from its cache of API key records (ms; 0: no cache,
    // one store read per verification). Changes made through this process apply at once; those
    // made through another, after its next poll (every min(this / 2, 500 ms)), and never later
    // than this. (The embedded store, which has one writer, always caches them, exactly.)
    API_KEY_CACHE_MS: z.coerce.number().int('expected a whole number').min(0).max(60_000).default(1000),
  })
  .superRefine((c, ctx) => {
    if (c.STORAGE === 'mongo' && !c.MONGODB_URI) {
      ctx.addIssue({ code: 'custom', path: ['MONGODB_URI'], message: 'required when STORAGE=mongo' });
    }
  });

export type RawConfig = z.output<typeof configSchema>;

export interface Config {
  env: RawConfig['NODE_ENV'];
  host: string;
  port: number;
  issuer: string;
  storage: { kind: 'embedded'; dataDir: string } | { kind: 'mongo'; uri: string; timeoutMs: number };
  /** Undefined means "generate and persist one" (a development default). */
  cookieSecrets: string[] | undefined;
  trustProxy: boolean;
  logLevel: RawConfig['LOG_LEVEL'];
  shutdownTimeoutMs: number;
  ttlSweepIntervalMs: number;
  signingKeysPollMs: number;
  refreshReuseGraceSeconds: number;
  passwordHashing: { memoryKib: number; iterations: number };
  /** The first owner created on an empty store; without a password one is generated and printed once. */
  bootstrapAdmin: { email: string; password: string | undefined };
  /** Requests per `windowSeconds` allowed to the login API, per bucket. */
  authRateLimits: {
    windowSeconds: number;
    loginPerIp: number;
    loginPerEmail: number;
    refreshPerToken: number;
    refreshPerIp: number;
  };
  /** Undefined secretsKeys means "generate one and keep it in the store" (a development default). */
  webhooks: {
    secretsKeys: string[] | undefined;
    retryBaseDelayMs: number;
    allowInsecureUrls: boolean;
    expiringLeadMs: number;
    expiringScanMs: number;
  };
  apiKeys: { usageFlushMs: number; creditsLowThreshold: number; recordCacheMs: number };
}

export function toConfig(raw: RawConfig): Config {
  const storageKind = raw.STORAGE ?? (raw.MONGODB_URI ? 'mongo' : 'embedded');
  return {
    env: raw.NODE_ENV,
    host: raw.HOST,
    port: raw.PORT,
    issuer: (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, ''),
    storage:
      storageKind === 'mongo'
        ? { kind: 'mongo', uri: raw.MONGODB_URI!, timeoutMs: raw.MONGODB_TIMEOUT_MS }
        : { kind: 'embedded', dataDir: raw.DATA_DIR },
    cookieSecrets: raw.COOKIE_SECRETS,
    trustProxy: raw.TRUST_PROXY,
    logLevel: raw.LOG_LEVEL,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    ttlSweepIntervalMs: raw.TTL_SWEEP_INTERVAL_MS,
    signingKeysPollMs: raw.SIGNING_KEYS_POLL_MS,
    refreshReuseGraceSeconds: raw.REFRESH_TOKEN_REUSE_GRACE_SECONDS,
    passwordHashing: { memoryKib: raw.PASSWORD_HASH_MEMORY_KIB, iterations: raw.PASSWORD_HASH_ITERATIONS },
    bootstrapAdmin: {
      email: raw.BOOTSTRAP_ADMIN_EMAIL ?? 'admin@localhost',
      password: raw.BOOTSTRAP_ADMIN_PASSWORD,
    },
    authRateLimits: {
      windowSeconds: raw.AUTH_RATE_WINDOW_SECONDS,
      loginPerIp: raw.AUTH_LOGIN_LIMIT_PER_IP,
      loginPerEmail: raw.AUTH_LOGIN_LIMIT_PER_EMAIL,
      refreshPerToken: raw.AUTH_REFRESH_LIMIT_PER_TOKEN,
      refreshPerIp: raw.AUTH_REFRESH_LIMIT_PER_IP,
    },
    webhooks: {
      secretsKeys: raw.WEBHOOK_SECRETS_KEY,
      retryBaseDelayMs: raw.WEBHOOK_RETRY_BASE_MS,
      allowInsecureUrls: raw.NODE_ENV !== 'production',
      expiringLeadMs: raw.WEBHOOK_EXPIRING_LEAD_SECONDS * 1000,
      expiringScanMs: raw.WEBHOOK_EXPIRING_SCAN_MS,
    },
    apiKeys: {
      usageFlushMs: raw.API_KEY_USAGE_FLUSH_MS,
      creditsLowThreshold: raw.CREDITS_LOW_THRESHOLD,
      recordCacheMs: raw.API_KEY_CACHE_MS,
    },
  };
}

/** One line per production-unsafe default in force; `NODE_ENV=production` refuses the fatal ones. */
export function unsafeDefaults(raw: RawConfig): { setting: string; message: string; fatal: boolean }[] {
  const out: { setting: string; message: string; fatal: boolean }[] = [];
  if (!raw.COOKIE_SECRETS) {
    out.push({
      setting: 'COOKIE_SECRETS',
      message: 'not set: cookie signing secrets are generated and kept in the store (development only)',
      fatal: true,
    });
  }
  const storageKind = raw.STORAGE ?? (raw.MONGODB_URI ? 'mongo' : 'embedded');
  if (storageKind === 'embedded' && raw.STORAGE !== 'embedded') {
    out.push({
      setting: 'STORAGE',
      message:
        'no MONGODB_URI: running on the embedded single-node store; set STORAGE=embedded to choose it on purpose',
      fatal: true,
    });
  }
  if (!raw.PUBLIC_URL) {
    out.push({
      setting: 'PUBLIC_URL',
      message: `not set: the issuer is http://localhost:${raw.PORT}, which no one else can reach`,
      fatal: true,
    });
  } else if (raw.PUBLIC_URL.startsWith('http://')) {
    out.push({
      setting: 'PUBLIC_URL',
      message: 'is plain http: tokens and cookies travel unencrypted',
      fatal: true,
    });
  }
  // Below OWASP's weakest argon2id pairing (m=7168 KiB, t=5; products of the pairs >= 35840).
  if (
    raw.PASSWORD_HASH_MEMORY_KIB < 7168 ||
    raw.PASSWORD_HASH_MEMORY_KIB * raw.PASSWORD_HASH_ITERATIONS < 35_840
  ) {
    out.push({
      setting: 'PASSWORD_HASH_MEMORY_KIB',
      message: `${raw.PASSWORD_HASH_MEMORY_KIB} KiB x ${raw.PASSWORD_HASH_ITERATIONS} iteration(s) is below the OWASP minimum for argon2id (19456 KiB x 2)`,
      fatal: true,
    });
  }
  if (!raw.WEBHOOK_SECRETS_KEY) {
    out.push({
      setting: 'WEBHOOK_SECRETS_KEY',
      message: 'not set: webhook signing secrets are sealed under a key kept in the store (development only)',
      fatal: true,
    });
  }
  return out;
}
