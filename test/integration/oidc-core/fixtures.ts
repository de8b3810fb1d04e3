import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { Container } from '../../../src/container.ts';
import { mongoUriWithDb, type StoreChoice } from '../../helpers/server.ts';

export const PASSWORD = 'correct horse battery staple';

export const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

export interface Tenant {
  workspaceId: string;
  owner: { id: string; email: string };
}

/** A workspace and its owner (who signs in with PASSWORD). */
export async function tenant(c: Container, label = 'acme'): Promise<Tenant> {
  const tag = randomBytes(4).toString('hex');
  const owner = await c.accounts.createUser({
    email: `owner.${tag}@${label}.test`,
    password: PASSWORD,
    name: 'Ada Owner',
    emailVerified: true,
  });
  const ws = await c.workspaces.create({ name: `${label} ${tag}` }, owner.id);
  return { workspaceId: ws.id, owner: { id: owner.id, email: owner.email } };
}

export async function addUser(c: Container, workspaceId: string, role: 'owner' | 'admin' | 'member') {
  const tag = randomBytes(4).toString('hex');
  const u = await c.accounts.createUser({ email: `${role}.${tag}@acme.test`, password: PASSWORD });
  await c.workspaces.addMember(workspaceId, u.id, role);
  return u;
}

/** A bearer token for the management API as this user of this workspace. */
export async function bearer(c: Container, userId: string, workspaceId: string): Promise<string> {
  return (await c.tokens.issueForUser({ userId, workspaceId })).access_token;
}

export async function form(
  url: string,
  body: Record<string, string>,
  auth?: { id: string; secret: string; method?: 'basic' | 'post' },
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const params = new URLSearchParams(body);
  if (auth && (auth.method ?? 'basic') === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(auth.id)}:${encodeURIComponent(auth.secret)}`).toString('base64')}`;
  } else if (auth) {
    params.set('client_id', auth.id);
    params.set('client_secret', auth.secret);
  }
  const res = await fetch(url, { method: 'POST', headers, body: params.toString() });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { status?: number; code?: string };
    if (typeof e.status === 'number' && typeof e.code === 'string') return { status: e.status, code: e.code };
    throw err;
  }
  throw new Error('expected a refusal');
}
