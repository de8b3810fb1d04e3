import { type AdapterPayload, errors } from 'oidc-provider';
import { KEY_ID_RE } from '../api-keys/hash.ts';
import type { ApiKeyRecord } from '../api-keys/model.ts';
import { statusOf } from '../api-keys/model.ts';
import type { VerifyResult } from '../api-keys/verify.ts';
import type { Clock, Collection } from '../storage/index.ts';
import { setHeaderOnCurrentRequest } from './internals.ts';

/**
 * API keys as OAuth clients (DESIGN "API keys"): `client_id` = the key's public id, the secret =
 * the whole key, grant `client_credentials` only, authenticated with `client_secret_basic` or
 * `client_secret_post`. The secret check goes through the key service's verification (revoked,
 * expired, rotated-out and unknown keys fail it), so a key that stops working as a key stops
 * working as a client on the next request: there is no client cache to outlive it (the embedded
 * store's client cache, client-cache.ts, keeps registered clients only).
 */
export const KEY_CLIENT_KIND = 'api_key';

/** oidc-provider accepts client_secret_basic and client_secret_post alike for a secret-based client. */
export function keyClientMetadata(key: ApiKeyRecord): AdapterPayload {
  return {
    client_id: key.id,
    client_name: key.name,
    // A placeholder the provider requires for secret-based auth; the real check is the key's digest
    // in compareClientSecret (client-auth.ts), which never looks at this value.
    client_secret: 'api-key',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    workspace_id: key.workspaceId,
    gatehouse_kind: KEY_CLIENT_KIND,
  };
}

export interface KeyClientDeps {
  clock: Clock;
  keys: Collection<ApiKeyRecord>;
  /**
   * The key service's check of a key used as client credentials: active, this key, and one hit on
   * its rate limit (no credits charged): ApiKeyService.authenticateClient.
   */
  authenticateClient(keyId: string, secret: string): Promise<VerifyResult>;
}

export class KeyClients {
  constructor(private readonly d: KeyClientDeps) {}

  /** The client for an active key's id; undefined for anything else (→ invalid_client). */
  async find(clientId: string): Promise<AdapterPayload | undefined> {
    if (!KEY_ID_RE.test(clientId)) return undefined;
    const key = await this.d.keys.get(clientId);
    if (!key || statusOf(key, this.d.clock.now()) !== 'active') return undefined;
    return keyClientMetadata(key);
  }

  /** The key record behind a key client (for its scopes), if still active. */
  async record(clientId: string): Promise<ApiKeyRecord | null> {
    if (!KEY_ID_RE.test(clientId)) return null;
    const key = await this.d.keys.get(clientId);
    return key && statusOf(key, this.d.clock.now()) === 'active' ? key : null;
  }

  /**
   * The presented secret is this key, and the key is active (not revoked, expired or rotated out).
   * Getting a token is a use of the key: over its rate limit the token endpoint answers 429
   * `rate_limited` with Retry-After instead of a token.
   */
  async secretMatches(clientId: string, secret: unknown): Promise<boolean> {
    if (typeof secret !== 'string' || secret.length > 200) return false;
    const r = await this.d.authenticateClient(clientId, secret);
    if (!r.valid && r.reason === 'rate_limited') {
      const retryAfter = r.retryAfter;
      setHeaderOnCurrentRequest('Retry-After', String(retryAfter));
      const err = new errors.OIDCProviderError(429, 'rate_limited');
      Object.assign(err, {
        error_description: `This API key is over its rate limit; retry in ${retryAfter} s.`,
      });
      throw err;
    }
    return r.valid && r.keyId === clientId;
  }
}
