import type { Configuration, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import { logoutSource, postLogoutSuccessSource, renderError } from '../interactions/pages.ts';
import { EXTRA_CLIENT_METADATA } from './client-lookup.ts';
import { CLAIMS } from './find-account.ts';
import { ACCESS_TOKEN_ALG, FIXED_TTL, OIDC_SCOPES } from './resources.ts';
import type { StoredSigningKey } from './signing-keys.ts';
import type { TokenPolicy } from './token-policy.ts';

export interface OidcConfigurationInput {
  adapter: NonNullable<Configuration['adapter']>;
  signingKeys: StoredSigningKey[];
  cookieSecrets: string[];
  secureCookies: boolean;
  findAccount: FindAccount;
  policy: TokenPolicy;
  loadExistingGrant?: Configuration['loadExistingGrant'];
}

/** Grants outlive every refresh token they back (the longest workspace setting is 365 days). */
const GRANT_TTL = 365 * 86_400;

/**
 * oidc-provider's configuration as a pure function of its inputs. Signing: ES256 by default
 * (id tokens and JWT access tokens), RS256 for clients that ask for it; the newest key of each
 * alg signs. Everything the standards leave to us is decided here, in one place:
 * - authorization code only (no implicit/hybrid), PKCE S256 required for public clients;
 * - refresh tokens rotate on every use; a reused one revokes the grant (the library's rule);
 * - resource indicators: JWT access tokens (RFC 9068) for Gatehouse's API and a client's own
 *   resources, lifetime from the client's workspace (token-policy.ts);
 * - client_credentials, introspection, revocation, userinfo, PAR, DPoP, RP-initiated logout.
 */
export function oidcConfiguration(input: OidcConfigurationInput): Configuration {
  const { policy } = input;
  return {
    adapter: input.adapter,
    jwks: { keys: input.signingKeys.map((k) => k.jwk) as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: input.cookieSecrets,
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: input.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: input.secureCookies },
    },
    findAccount: input.findAccount,
    claims: CLAIMS,
    scopes: [...OIDC_SCOPES],
    // The account's claims go in the id_token too, not only at userinfo (issue 3: id_token claims).
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: ACCESS_TOKEN_ALG,
    },
    extraClientMetadata: { properties: EXTRA_CLIENT_METADATA },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      requestObjectSigningAlgValues: ['ES256', 'RS256'],
    },
    // oidc-provider 9 knows only S256 (RFC 7636 "plain" is refused as an unsupported method).
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client may introspect its own tokens and those of clients of its workspace (its APIs).
        allowedPolicy: async (_ctx, client, token) =>
          token.clientId === client.clientId ||
          (!!clientWorkspace(client) &&
            clientWorkspace(client) === (token as { extra?: { workspace_id?: string } }).extra?.workspace_id),
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: policy.defaultResource as never,
        getResourceServerInfo: policy.getResourceServerInfo as never,
        useGrantedResource: async () => false,
      },
      // Our pages (src/interactions/pages.ts): logout confirmation and the signed-out page.
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    extraTokenClaims: policy.extraTokenClaims as never,
    issueRefreshToken: async (ctx: KoaContextWithOIDC, client) => {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      await policy.stashWorkspace(ctx, client);
      return true;
    },
    rotateRefreshToken: async (ctx: KoaContextWithOIDC) => {
      await policy.stashWorkspace(ctx, ctx.oidc.client);
      return true;
    },
    ttl: {
      AccessToken: ((ctx: KoaContextWithOIDC, token: never) => policy.accessTokenTtl(ctx, token)) as never,
      ClientCredentials: ((ctx: KoaContextWithOIDC, token: never) =>
        policy.accessTokenTtl(ctx, token)) as never,
      RefreshToken: ((ctx: KoaContextWithOIDC, token: never) => policy.refreshTokenTtl(ctx, token)) as never,
      Grant: GRANT_TTL,
      Session: FIXED_TTL.Session,
      IdToken: FIXED_TTL.IdToken,
      AuthorizationCode: FIXED_TTL.AuthorizationCode,
      Interaction: FIXED_TTL.Interaction,
    },
    ...(input.loadExistingGrant ? { loadExistingGrant: input.loadExistingGrant } : {}),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // HTML error page in our design (JSON clients still get JSON: oidc-provider asks only when html is accepted).
    renderError,
  };
}

function clientWorkspace(client: object): string | undefined {
  const v = (client as { workspace_id?: unknown }).workspace_id;
  return typeof v === 'string' ? v : undefined;
}
