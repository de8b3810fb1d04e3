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

const secretList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().min(32, 'each secret must be at least 32 characters'))
      .min(1, 'expected at least one secret'),
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
  passwordHashing: { memoryKib: number; iterations: number };
  /** The first owner created on an empty store; without a password one is generated and printed once. */
  bootstrapAdmin: { email: string; password: string | undefined };
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
    passwordHashing: { memoryKib: raw.PASSWORD_HASH_MEMORY_KIB, iterations: raw.PASSWORD_HASH_ITERATIONS },
    bootstrapAdmin: {
      email: raw.BOOTSTRAP_ADMIN_EMAIL ?? 'admin@localhost',
      password: raw.BOOTSTRAP_ADMIN_PASSWORD,
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
  return out;
}
