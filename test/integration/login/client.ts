/** A small HTTP client for the login API tests: JSON in and out, a chosen client IP. */
import { inject } from 'vitest';
import { mongoUriWithDb, type StoreChoice } from '../../helpers/server.ts';

/** Cheap argon2id for tests; the servers trust X-Forwarded-For so each test can be its own client IP. */
export const LOGIN_TEST_ENV = {
  PASSWORD_HASH_MEMORY_KIB: '1024',
  PASSWORD_HASH_ITERATIONS: '1',
  TRUST_PROXY: 'true',
};

export const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, checked by the assertions
  body: any;
  headers: Headers;
}

let lastIp = 0;
/** A client address no other request of this test process uses (so per-IP limits stay apart). */
export function freshIp(): string {
  lastIp += 1;
  return `10.${(lastIp >> 16) & 255}.${(lastIp >> 8) & 255}.${lastIp & 255}`;
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; token?: string; ip?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, body, headers: res.headers };
}

export function login(
  base: string,
  email: string,
  password: string,
  extra: Record<string, unknown> = {},
  ip = freshIp(),
) {
  return call(base, 'POST', '/api/v1/auth/login', { body: { email, password, ...extra }, ip });
}

export function refresh(base: string, refreshToken: string, ip = freshIp()) {
  return call(base, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken }, ip });
}

/** The value of one Prometheus counter series at /metrics (0 when it has not been counted yet). */
export async function counter(base: string, series: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
