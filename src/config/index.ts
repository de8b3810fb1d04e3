import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Config, configSchema, toConfig, unsafeDefaults } from './schema.ts';

export type { Config } from './schema.ts';

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    readonly reason: string,
  ) {
    super(`${setting}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: Config;
  /** Production-unsafe defaults in force, one human line each (printed at start). */
  warnings: string[];
}

type Env = Record<string, string | undefined>;

function readJson(file: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('expected a JSON object of settings');
    }
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(file, (err as Error).message);
  }
}

/**
 * Reads settings from `config/default.json`, then `config/<NODE_ENV>.json`, then the environment
 * (later wins), validates them once and returns the typed config. The only reader of process.env.
 */
export function loadConfig(env: Env = process.env): LoadedConfig {
  const configDir = resolve(env.GATEHOUSE_CONFIG_DIR ?? 'config');
  const nodeEnv = env.NODE_ENV ?? 'development';
  const layers: Record<string, unknown>[] = [];
  for (const name of ['default.json', `${nodeEnv}.json`]) {
    const file = join(configDir, name);
    if (existsSync(file)) layers.push(readJson(file));
  }
  const fromEnv: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape ?? {})) {
    const value = env[key];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const merged = Object.assign({}, ...layers, fromEnv);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = issue.path.length ? String(issue.path[0]) : 'config';
    const got = issue.path.length ? merged[String(issue.path[0])] : undefined;
    const suffix = got === undefined ? '' : `, got ${JSON.stringify(got)}`;
    throw new ConfigError(setting, `${issue.message}${suffix}`);
  }
  const raw = parsed.data;
  const unsafe = unsafeDefaults(raw);
  if (raw.NODE_ENV === 'production') {
    const fatal = unsafe.find((u) => u.fatal);
    if (fatal) throw new ConfigError(fatal.setting, `${fatal.message} (refused with NODE_ENV=production)`);
  }
  return { config: toConfig(raw), warnings: unsafe.map((u) => `${u.setting} ${u.message}`) };
}
