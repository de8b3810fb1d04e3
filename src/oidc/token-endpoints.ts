import { decodeJwt } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { KEY_PATTERN } from '../api-keys/format.ts';
import type { VerifyResult } from '../api-keys/verify.ts';
import { clientWorkspaceId } from '../interactions/workspace.ts';
import type { OidcTokenService } from './tokens.ts';

/**
 * Where oidc-provider's answers at /token, /token/introspection and /token/revocation fall short
 * of what Gatehouse promises, this middleware (run around the provider's, after it has
 * authenticated the client and answered) amends them. Each case is one small function:
 *
 * - JWT access tokens are not stored by the library, which refuses them at introspection and
 *   revocation (`unsupported_token_type`). We describe a JWT we issued (checked by the token
 *   service: signature, issuer, expiry, grant still alive) and API keys of the client's
 *   workspace (RFC 7662 §2.2), and revoke a JWT (RFC 7009) by ending its grant, or deny-listing
 *   it when it has none.
 * - A client not allowed the grant type gets `unauthorized_client` (RFC 6749 §5.2), not
 *   `invalid_request`.
 * - An empty secret in HTTP Basic is a failed client authentication: 401 `invalid_client`.
 * - A failed redemption of an authorization code by its own client (wrong PKCE verifier, wrong
 *   redirect_uri) spends the code, so a later attempt cannot succeed with it.
 */
const KEY_RE = new RegExp(`^${KEY_PATTERN}$`);
const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface TokenEndpointDeps {
  tokens: OidcTokenService;
  apiKeys: { inspect(key: string): Promise<VerifyResult> };
}

export function installTokenEndpointExtensions(provider: Provider, d: TokenEndpointDeps): void {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    const c = ctx as unknown as KoaContextWithOIDC;
    const route = c.oidc?.route;
    const body = (ctx.body ?? {}) as { error?: string; error_description?: string; active?: boolean };
    const client = c.oidc?.client;
    const params = (c.oidc?.params ?? {}) as Record<string, unknown>;
    if (ctx.status === 400 && body.error === 'invalid_request') {
      if (body.error_description === 'requested grant type is not allowed for this client') {
        ctx.body = { ...body, error: 'unauthorized_client' };
      } else if (
        body.error_description?.startsWith('client_secret must be provided') ||
        body.error_description === 'no client authentication mechanism provided'
      ) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Basic realm="gatehouse"');
        ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
      }
      return;
    }
    if (route === 'token' && ctx.status === 400 && body.error === 'invalid_grant') {
      if (params.grant_type === 'authorization_code' && typeof params.code === 'string' && client) {
        const code = await provider.AuthorizationCode.find(params.code);
        if (code && code.clientId === client.clientId) await code.destroy();
      }
      return;
    }
    const token = params.token;
    if ((route !== 'introspection' && route !== 'revocation') || typeof token !== 'string' || !client) return;
    const structured = ctx.status === 400 && body.error === 'unsupported_token_type';
    if (route === 'introspection' && (structured || (ctx.status === 200 && body.active === false))) {
      ctx.status = 200;
      ctx.body = (await describe(d, token, client)) ?? { active: false };
    } else if (route === 'revocation' && structured) {
      await revokeJwt(d, token, client);
      ctx.status = 200;
      ctx.body = '';
    }
  });
}

type Client = { clientId: string };

function mayIntrospect(client: Client, clientId: unknown, workspaceId: unknown): boolean {
  const ws = clientWorkspaceId(client);
  return clientId === client.clientId || (!!ws && ws === workspaceId);
}

async function describe(d: TokenEndpointDeps, token: string, client: Client) {
  if (JWT_RE.test(token)) {
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token);
    } catch {
      return undefined;
    }
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    if (typeof aud !== 'string') return undefined;
    let scopes: string[];
    try {
      ({
        token: { scopes },
      } = await d.tokens.inspectAccessToken(token, aud));
    } catch {
      return undefined;
    }
    if (!mayIntrospect(client, claims.client_id, claims.workspace_id)) return undefined;
    const cnf = claims.cnf as { jkt?: string } | undefined;
    return {
      active: true,
      token_type: cnf?.jkt ? 'DPoP' : 'Bearer',
      // The scopes the token holds now (a key's token loses what its key lost), not as minted.
      ...(claims.scope !== undefined ? { scope: scopes.join(' ') } : {}),
      ...pick(claims, ['iss', 'sub', 'aud', 'client_id', 'exp', 'iat', 'jti', 'workspace_id', 'cnf']),
    };
  }
  if (KEY_RE.test(token)) {
    const r = await d.apiKeys.inspect(token);
    if (!r.valid || !mayIntrospect(client, r.keyId, r.workspaceId)) return undefined;
    return {
      active: true,
      token_type: 'api_key',
      client_id: r.keyId,
      workspace_id: r.workspaceId,
      ...(r.scopes === 'all' ? { grant_all: true } : { scope: r.scopes.join(' ') }),
      ...(r.expiresAt ? { exp: Math.floor(r.expiresAt.getTime() / 1000) } : {}),
    };
  }
  return undefined;
}

async function revokeJwt(d: TokenEndpointDeps, token: string, client: Client): Promise<void> {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
    const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
    await d.tokens.inspectAccessToken(token, typeof aud === 'string' ? aud : undefined);
  } catch {
    return; // RFC 7009 §2.2: an invalid token is not an error
  }
  // Only the client the token was issued to may revoke it (RFC 7009 §2.1).
  if (claims.client_id !== client.clientId) return;
  if (typeof claims.gid === 'string') await d.tokens.revokeGrant(claims.gid);
  else if (typeof claims.jti === 'string' && typeof claims.exp === 'number')
    await d.tokens.denyJti(claims.jti, claims.exp);
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}
