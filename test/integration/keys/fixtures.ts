import { inject } from 'vitest';
import type { Container } from '../../../src/container.ts';
import { mongoUriWithDb, type StoreChoice, startGatehouse, type TestServer } from '../../helpers/server.ts';

/** Both stores, for describe.each. */
export const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

export const CHEAP = { PASSWORD_HASH_MEMORY_KIB: '1024', PASSWORD_HASH_ITERATIONS: '1' };

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, checked by the assertions
  body: any;
  headers: Headers;
}

/** A credential as a request header: an API key as Bearer (default), in X-API-Key, or any header. */
export type Cred = string | { header: string; value: string } | undefined;

export function headersFor(cred: Cred): Record<string, string> {
  if (!cred) return {};
  if (typeof cred === 'string') return { authorization: `Bearer ${cred}` };
  return { [cred.header]: cred.value };
}

export async function call(
  base: string,
  method: string,
  path: string,
  cred?: Cred,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = headersFor(cred);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface KeyWorld {
  server: TestServer;
  c: Container;
  /** Workspace A, with a grant-all admin key, and workspace B with its own. */
  a: { id: string; admin: string; adminId: string };
  b: { id: string; admin: string; adminId: string };
  call(method: string, path: string, cred?: Cred, body?: unknown): Promise<Answer>;
  /** A key of workspace A (by the operator, who holds everything). */
  key(
    input: Parameters<Container['apiKeys']['create']>[1],
    ws?: string,
  ): Promise<{ id: string; secret: string }>;
}

export async function keyWorld(store: StoreChoice, env: Record<string, string> = {}): Promise<KeyWorld> {
  const server = await startGatehouse(store, { ...CHEAP, ...env });
  const c = server.container;
  const op = { scopes: 'all' as const };
  const mk = async (name: string) => {
    const ws = await c.workspaces.create({ name }, `usr_owner_${name}`);
    const k = await c.apiKeys.create(ws.id, { name: `${name} admin`, grantAll: true }, op);
    return { id: ws.id, admin: k.secret, adminId: k.key.id };
  };
  const a = await mk('Acme');
  const b = await mk('Globex');
  return {
    server,
    c,
    a,
    b,
    call: (method, path, cred, body) => call(server.url, method, path, cred, body),
    key: async (input, ws = a.id) => {
      const k = await c.apiKeys.create(ws, input, op);
      return { id: k.key.id, secret: k.secret };
    },
  };
}
