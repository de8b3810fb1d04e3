import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { inject } from 'vitest';
import type { Container } from '../../../src/container.ts';
import { mongoUriWithDb, type StoreChoice } from '../../helpers/server.ts';
import { formAction, HttpBrowser, inputValue, type Page } from '../interactions/http-browser.ts';

export const PASSWORD = 'correct horse battery staple';
/** Never contacted: the HTTP browser stops at the first redirect that leaves Gatehouse. */
export const CALLBACK = 'http://127.0.0.1:9/callback';
export const LOGGED_OUT = 'http://127.0.0.1:9/logged-out';

export const stores: [string, () => StoreChoice][] = [
  ['embedded', () => ({ kind: 'embedded' })],
  ['mongo', () => ({ kind: 'mongo', uri: mongoUriWithDb(inject('mongoUri')) })],
];

/** The resource indicator of Gatehouse's own API (RFC 8707), as DECISIONS.md fixes it. */
export const apiResource = (issuer: string): string => `${issuer}/api`;

export interface Member {
  id: string;
  email: string;
}

export interface Workspace {
  id: string;
  name: string;
  owner: Member;
}

/** A workspace whose owner signs in with PASSWORD. */
export async function createWorkspace(c: Container, label = 'acme'): Promise<Workspace> {
  const tag = randomBytes(4).toString('hex');
  const user = await c.accounts.createUser({
    email: `ada.${tag}@${label}.test`,
    password: PASSWORD,
    name: 'Ada Lovelace',
    emailVerified: true,
  });
  const ws = await c.workspaces.create({ name: `${label} ${tag}` }, user.id);
  return { id: ws.id, name: ws.name, owner: { id: user.id, email: user.email } };
}

export interface ClientSpec {
  name?: string;
  public?: boolean;
  grantTypes?: ('authorization_code' | 'refresh_token' | 'client_credentials')[];
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  authMethod?: 'client_secret_basic' | 'client_secret_post';
  resources?: string[];
  dpopBound?: boolean;
}

export interface RegisteredClient {
  clientId: string;
  /** Shown once by the registry; undefined for public clients. */
  clientSecret?: string;
}

/**
 * Registers an OAuth client of `workspaceId` through the client registry (c.clients, src/clients),
 * the service behind the management API and the CLI.
 */
export async function registerClient(
  c: Container,
  workspaceId: string,
  spec: ClientSpec = {},
): Promise<RegisteredClient> {
  const grantTypes = spec.grantTypes ?? ['authorization_code', 'refresh_token'];
  const { client, secret } = await c.clients.create(workspaceId, {
    name: spec.name ?? 'Acme Analytics',
    public: spec.public ?? false,
    grantTypes,
    redirectUris: grantTypes.includes('authorization_code') ? (spec.redirectUris ?? [CALLBACK]) : [],
    postLogoutRedirectUris: grantTypes.includes('authorization_code')
      ? (spec.postLogoutRedirectUris ?? [LOGGED_OUT])
      : [],
    ...(spec.authMethod ? { authMethod: spec.authMethod } : {}),
    ...(spec.resources ? { resources: spec.resources } : {}),
    ...(spec.dpopBound ? { dpopBound: true } : {}),
  });
  return { clientId: client.id, ...(secret ? { clientSecret: secret } : {}) };
}

/** openid-client's view of Gatehouse for one client (discovery over plain http on loopback). */
export async function relyingParty(
  issuer: string,
  client: RegisteredClient,
  auth: 'basic' | 'post' | 'none' = client.clientSecret ? 'basic' : 'none',
  secret = client.clientSecret,
): Promise<oidc.Configuration> {
  const method =
    auth === 'none'
      ? oidc.None()
      : auth === 'post'
        ? oidc.ClientSecretPost(secret)
        : oidc.ClientSecretBasic(secret);
  return oidc.discovery(new URL(issuer), client.clientId, undefined, method, {
    execute: [oidc.allowInsecureRequests],
  });
}

export interface AuthorizationResult {
  callback: URL;
  verifier: string;
  state: string;
  nonce: string;
  browser: HttpBrowser;
}

/**
 * Runs an authorization request through the real interaction pages with an HTTP browser: signs
 * in, consents, and stops at the redirect back to the app. `authUrl` may be given (PAR) or is
 * built from `params`.
 */
export async function authorize(
  baseUrl: string,
  config: oidc.Configuration,
  email: string,
  params: Record<string, string> = {},
  options: { browser?: HttpBrowser; authUrl?: (p: Record<string, string>) => Promise<URL> } = {},
): Promise<AuthorizationResult> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const p: Record<string, string> = {
    redirect_uri: CALLBACK,
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  };
  const url = options.authUrl ? await options.authUrl(p) : oidc.buildAuthorizationUrl(config, p);
  const browser = options.browser ?? new HttpBrowser(baseUrl);
  const callback = await walk(browser, await browser.get(url.toString()), email);
  return { callback, verifier, state: p.state ?? state, nonce: p.nonce ?? nonce, browser };
}

/** Follows the pages: sign-in form, consent form, until the browser is sent off Gatehouse. */
export async function walk(browser: HttpBrowser, first: Page, email: string): Promise<URL> {
  let page = await browser.follow(first);
  for (let step = 0; step < 6; step++) {
    if (page.location && page.status >= 300 && page.status < 400) return new URL(page.location, page.url);
    const uid = /\/interaction\/([^/?#]+)/.exec(page.url)?.[1];
    const csrf = inputValue(page.html, 'csrf');
    if (!uid || !csrf)
      throw new Error(`unexpected page ${page.status} at ${page.url}: ${page.html.slice(0, 300)}`);
    if (page.html.includes('autocomplete="current-password"')) {
      page = await browser.follow(
        await browser.post(`/interaction/${uid}/login`, { csrf, email, password: PASSWORD }),
      );
    } else if (formAction(page.html, '/confirm')) {
      page = await browser.follow(await browser.post(`/interaction/${uid}/confirm`, { csrf }));
    } else {
      throw new Error(`neither sign-in nor consent at ${page.url}: ${page.html.slice(0, 300)}`);
    }
  }
  throw new Error('the authorization did not finish within 6 pages');
}

/** code + PKCE to tokens with openid-client (which checks state, iss and the ID token). */
export async function codeFlow(
  baseUrl: string,
  config: oidc.Configuration,
  email: string,
  params: Record<string, string> = {},
  options: { dpop?: oidc.DPoPHandle; browser?: HttpBrowser } = {},
) {
  const a = await authorize(baseUrl, config, email, params, { browser: options.browser });
  const tokens = await oidc.authorizationCodeGrant(
    config,
    a.callback,
    { pkceCodeVerifier: a.verifier, expectedState: a.state, expectedNonce: a.nonce },
    params.resource ? { resource: params.resource } : undefined,
    options.dpop ? { DPoP: options.dpop } : undefined,
  );
  return { ...a, tokens };
}

/** A token endpoint call without openid-client's own checks, to see exactly what the server answers. */
export async function rawToken(
  issuer: string,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(new URL('/token', issuer), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(basic ? { authorization: basicAuth(basic.id, basic.secret) } : {}),
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** Userinfo with a raw Authorization header (and DPoP proof): the status only. */
export async function userinfoStatus(
  config: oidc.Configuration,
  authorization: string,
  dpop?: string,
): Promise<number> {
  const res = await fetch(config.serverMetadata().userinfo_endpoint!, {
    headers: { authorization, ...(dpop ? { dpop } : {}) },
  });
  await res.arrayBuffer();
  return res.status;
}

/** The token service of DECISIONS.md (c.tokens). */
export function tokenService(c: Container): Container['tokens'] {
  return c.tokens;
}

/** Whether c.tokens.verifyAccessToken refuses the token, and with which error code. */
export async function verifyRefusal(c: Container, jwt: string, audience?: string): Promise<string | null> {
  try {
    await tokenService(c).verifyAccessToken(jwt, audience);
    return null;
  } catch (err) {
    const e = err as { code?: string; status?: number; message?: string };
    if (e.status !== 401) throw err;
    return e.code ?? e.message ?? 'refused';
  }
}

/** The API key service (src/api-keys): keys are also client_credentials clients. */
export function apiKeyService(c: Container): Container['apiKeys'] {
  return c.apiKeys;
}

/** Everything a store holds, as text: the files of an embedded data directory, or every Mongo document. */
export async function dumpStore(store: StoreChoice, dataDir?: string): Promise<string> {
  if (store.kind === 'embedded') {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const out: string[] = [];
    const walkDir = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walkDir(p);
        else out.push(readFileSync(p).toString('latin1'));
      }
    };
    walkDir(dataDir!);
    return out.join('\n');
  }
  const mongoose = (await import('mongoose')).default;
  const client = new mongoose.mongo.MongoClient(store.uri, { serverSelectionTimeoutMS: 10_000 });
  try {
    await client.connect();
    const db = client.db();
    const out: string[] = [];
    for (const col of await db.listCollections().toArray()) {
      out.push(JSON.stringify(await db.collection(col.name).find({}).toArray()));
    }
    return out.join('\n');
  } finally {
    await client.close();
  }
}
