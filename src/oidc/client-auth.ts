import type Provider from 'oidc-provider';
import { digestsEqual } from '../api-keys/hash.ts';
import { digestSecret } from '../clients/service.ts';
import { FIRST_PARTY_CLIENT_ID } from './client-lookup.ts';
import { credentialGeneration } from './credentials.ts';
import { currentRequestUsesBasicAuth, noteOnCurrentRequest } from './internals.ts';
import { KEY_CLIENT_KIND, type KeyClients } from './key-clients.ts';

/**
 * Client secrets are never stored: registered clients keep a SHA-256 digest as `client_secret`,
 * API-key clients keep the key's digest in the key store. oidc-provider's extension point for
 * this is `Client.prototype.compareClientSecret` (lib/models/client.js, awaited by
 * lib/shared/client_auth.js for client_secret_basic / client_secret_post), so no grant handler is
 * forked. Both comparisons are constant time (digest against digest).
 */
export function installClientSecretCheck(provider: Provider, keys: KeyClients): void {
  const proto = provider.Client.prototype as unknown as {
    compareClientSecret(this: ClientLike, actual: string): Promise<boolean> | boolean;
  };
  proto.compareClientSecret = function compareClientSecret(this: ClientLike, actual: string) {
    if (this.clientId === FIRST_PARTY_CLIENT_ID || typeof actual !== 'string') return false;
    if (this.gatehouse_kind === KEY_CLIENT_KIND)
      return keys.secretMatches(this.clientId, actual).then((ok) => ok && matched(digestSecret(actual)));
    // A registered client uses the method it registered (RFC 7591 token_endpoint_auth_method);
    // the library alone would take either secret method. The secret is still compared, in constant time.
    const basic = currentRequestUsesBasicAuth();
    const methodOk =
      basic === undefined || basic === (this.tokenEndpointAuthMethod === 'client_secret_basic');
    const digest = digestSecret(actual);
    return !!this.clientSecret && digestsEqual(digest, this.clientSecret) && methodOk && matched(digest);
  };
}

/**
 * Which secret this was (credentials.ts): a token minted now dies when that secret is rotated out.
 * Keys and client secrets are both stored as the SHA-256 (hex) of the presented string.
 */
function matched(digest: string): true {
  noteOnCurrentRequest(CREDENTIAL_GENERATION_STATE, credentialGeneration(digest));
  return true;
}

/** Where the matched secret's fingerprint waits on ctx.state for extraTokenClaims (token-policy.ts). */
export const CREDENTIAL_GENERATION_STATE = 'gatehouseCredentialGeneration';

interface ClientLike {
  clientId: string;
  clientSecret?: string;
  tokenEndpointAuthMethod?: string;
  gatehouse_kind?: string;
}
