import { createHash, randomBytes } from 'node:crypto';
import type { Container } from '../../../src/container.ts';

export const PASSWORD = 'correct horse battery staple';
export const CLIENT_NAME = 'Acme Analytics';

export interface Tenant {
  workspaceId: string;
  workspaceName: string;
  member: { id: string; email: string };
  outsider: { id: string; email: string };
  disabled: { id: string; email: string };
  client: { clientId: string; clientSecret: string; redirectUri: string; postLogoutRedirectUri: string };
}

/**
 * A workspace with a member, a user of another workspace, a disabled member, and a confidential
 * OAuth client of the workspace that redirects to `redirectUri`.
 */
export async function createTenant(c: Container, redirectUri: string, label = 'acme'): Promise<Tenant> {
  const tag = randomBytes(4).toString('hex');
  const member = await c.accounts.createUser({
    email: `ada.${tag}@${label}.test`,
    password: PASSWORD,
    name: 'Ada Lovelace',
    emailVerified: true,
  });
  const ws = await c.workspaces.create(
    { name: `${label[0]!.toUpperCase()}${label.slice(1)} Inc` },
    member.id,
  );
  const outsider = await c.accounts.createUser({ email: `eve.${tag}@other.test`, password: PASSWORD });
  await c.workspaces.create({ name: `Other ${tag}` }, outsider.id);
  const disabled = await c.accounts.createUser({ email: `dan.${tag}@${label}.test`, password: PASSWORD });
  await c.workspaces.addMember(ws.id, disabled.id, 'member');
  await disableUser(c, disabled.id);
  const postLogoutRedirectUri = new URL('/logged-out', redirectUri).toString();
  const client = await registerClient(c, ws.id, redirectUri, postLogoutRedirectUri);
  return {
    workspaceId: ws.id,
    workspaceName: ws.name,
    member: { id: member.id, email: member.email },
    outsider: { id: outsider.id, email: outsider.email },
    disabled: { id: disabled.id, email: disabled.email },
    client: { ...client, redirectUri, postLogoutRedirectUri },
  };
}

async function disableUser(c: Container, userId: string): Promise<void> {
  const users = c.storage.collection<{ id: string; disabled?: boolean }>({ name: 'users' });
  await users.update({ id: userId }, { set: { disabled: true } });
}

/** A confidential client of the workspace, registered through the client registry (src/clients). */
async function registerClient(
  c: Container,
  workspaceId: string,
  redirectUri: string,
  postLogoutRedirectUri: string,
): Promise<{ clientId: string; clientSecret: string }> {
  const { client, secret } = await c.clients.create(workspaceId, {
    name: CLIENT_NAME,
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [postLogoutRedirectUri],
    grantTypes: ['authorization_code', 'refresh_token'],
  });
  if (!secret) throw new Error('a confidential client must come with a secret');
  return { clientId: client.id, clientSecret: secret };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(issuer: string, t: Tenant, extra: Record<string, string> = {}): string {
  const u = new URL('/auth', issuer);
  u.search = new URLSearchParams({
    client_id: t.client.clientId,
    redirect_uri: t.client.redirectUri,
    response_type: 'code',
    scope: 'openid email profile',
    state: randomBytes(8).toString('hex'),
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return u.toString();
}
