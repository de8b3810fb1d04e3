import type { AdapterPayload } from 'oidc-provider';
import type { OAuthClientRecord } from '../clients/model.ts';
import type { KeyClients } from './key-clients.ts';

/**
 * The provider's Client model reads from here (adapter.ts): the built-in first-party client of the
 * login API, registered clients (src/clients), and API keys (key-clients.ts).
 */
export const FIRST_PARTY_CLIENT_ID = 'gatehouse';
export const REGISTERED_CLIENT_KIND = 'registered';

/**
 * The login API's client. It is never usable at the protocol endpoints: its auth method needs a
 * secret and compareClientSecret (client-auth.ts) refuses every secret for it.
 */
const FIRST_PARTY: AdapterPayload = {
  client_id: FIRST_PARTY_CLIENT_ID,
  client_name: 'Gatehouse',
  client_secret: 'first-party',
  grant_types: ['refresh_token'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  gatehouse_kind: 'first_party',
};

export function registeredClientMetadata(r: OAuthClientRecord): AdapterPayload {
  const code = r.grantTypes.includes('authorization_code');
  return {
    client_id: r.id,
    client_name: r.name,
    grant_types: r.grantTypes,
    response_types: code ? ['code'] : [],
    redirect_uris: r.redirectUris,
    post_logout_redirect_uris: r.postLogoutRedirectUris,
    token_endpoint_auth_method: r.authMethod ?? 'none',
    // The SHA-256 digest; client-auth.ts compares digests of what is presented.
    ...(r.secretDigest ? { client_secret: r.secretDigest } : {}),
    ...(r.dpopBound ? { dpop_bound_access_tokens: true } : {}),
    workspace_id: r.workspaceId,
    resources: r.resources,
    gatehouse_kind: REGISTERED_CLIENT_KIND,
  };
}

export interface ClientSources {
  registry: { find(id: string): Promise<OAuthClientRecord | null> };
  keys: KeyClients;
}

export function clientLookup(s: ClientSources): (id: string) => Promise<AdapterPayload | undefined> {
  return async (id) => {
    if (id === FIRST_PARTY_CLIENT_ID) return FIRST_PARTY;
    const registered = await s.registry.find(id);
    if (registered) return registeredClientMetadata(registered);
    return s.keys.find(id);
  };
}

/** Extra client metadata oidc-provider must accept (it keeps these under their own names). */
export const EXTRA_CLIENT_METADATA = ['workspace_id', 'resources', 'gatehouse_kind'];
