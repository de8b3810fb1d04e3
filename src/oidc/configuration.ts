import type { Configuration } from 'oidc-provider';
import type { StoredSigningKey } from './signing-keys.ts';

export interface OidcConfigurationInput {
  adapter: NonNullable<Configuration['adapter']>;
  signingKeys: StoredSigningKey[];
  cookieSecrets: string[];
  secureCookies: boolean;
}

/**
 * oidc-provider's configuration as a pure function of its inputs. Signing: ES256 by default,
 * RS256 for clients that ask for it; the newest key of each alg signs.
 */
export function oidcConfiguration(input: OidcConfigurationInput): Configuration {
  return {
    adapter: input.adapter,
    jwks: { keys: input.signingKeys.map((k) => k.jwk) as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: input.cookieSecrets,
      long: { signed: true, httpOnly: true, sameSite: 'lax', secure: input.secureCookies },
      short: { signed: true, httpOnly: true, sameSite: 'lax', secure: input.secureCookies },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256', 'RS256'],
      requestObjectSigningAlgValues: ['ES256', 'RS256'],
    },
    features: {
      devInteractions: { enabled: false },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}
