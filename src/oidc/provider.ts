import Provider from 'oidc-provider';
import type { User } from '../accounts/model.ts';
import type { ApiKeyRecord } from '../api-keys/model.ts';
import type { VerifyResult } from '../api-keys/verify.ts';
import type { OAuthClientRecord } from '../clients/model.ts';
import { loadExistingGrantForMembers } from '../interactions/grant-gate.ts';
import type { Logger } from '../logger.ts';
import type { Clock, Collection, Storage } from '../storage/index.ts';
import type { Workspace } from '../workspaces/model.ts';
import type { ScopeCatalog } from '../workspaces/scopes.ts';
import { createAdapterClass } from './adapter.ts';
import { installClientSecretCheck } from './client-auth.ts';
import { type ClientCache, cacheProviderClients } from './client-cache.ts';
import { clientLookup } from './client-lookup.ts';
import { oidcConfiguration } from './configuration.ts';
import { findAccountIn } from './find-account.ts';
import { replaceProviderKeys } from './internals.ts';
import { KeyClients } from './key-clients.ts';
import { SigningKeyRing, SigningKeyStore } from './signing-keys.ts';
import { TokenPolicy } from './token-policy.ts';

export interface ProviderDeps {
  issuer: string;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  cookieSecrets: string[] | undefined;
  trustProxy: boolean;
  accounts: { getUser(id: string): Promise<User | null> };
  workspaces: {
    get(id: string): Promise<Workspace | null>;
    membership(workspaceId: string, userId: string): Promise<unknown | null>;
  };
  catalogue: Pick<ScopeCatalog, 'list'>;
  clients: { find(id: string): Promise<OAuthClientRecord | null> };
  apiKeys: {
    repo: { keys: Collection<ApiKeyRecord> };
    authenticateClient(keyId: string, secret: string): Promise<VerifyResult>;
  };
}

export interface OidcCore {
  provider: Provider;
  keys: SigningKeyStore;
  ring: SigningKeyRing;
  policy: TokenPolicy;
  keyClients: KeyClients;
  /** The embedded store's exact cache of registered clients (client-cache.ts); none on MongoDB. */
  clientCache: ClientCache | undefined;
}

export async function createProvider(deps: ProviderDeps): Promise<OidcCore> {
  const keys = new SigningKeyStore(deps.storage, deps.clock);
  const signingKeys = await keys.load();
  const cookieSecrets = deps.cookieSecrets ?? (await keys.cookieSecrets());
  const keyClients = new KeyClients({
    clock: deps.clock,
    keys: deps.apiKeys.repo.keys,
    authenticateClient: (id, secret) => deps.apiKeys.authenticateClient(id, secret),
  });
  const policy = new TokenPolicy({
    issuer: deps.issuer,
    clock: deps.clock,
    workspaces: deps.workspaces,
    catalogue: deps.catalogue,
    keyClients,
  });
  const provider = new Provider(
    deps.issuer,
    oidcConfiguration({
      adapter: createAdapterClass(deps.storage, deps.clock, {
        findClient: clientLookup({ registry: deps.clients, keys: keyClients }),
      }),
      signingKeys,
      cookieSecrets,
      secureCookies: deps.issuer.startsWith('https://'),
      findAccount: findAccountIn(deps.accounts, deps.workspaces),
      policy,
      loadExistingGrant: loadExistingGrantForMembers(deps.workspaces),
    }),
  );
  provider.proxy = deps.trustProxy;
  const clientCache = deps.storage.kind === 'embedded' ? cacheProviderClients(provider) : undefined;
  installClientSecretCheck(provider, keyClients);
  provider.on('server_error', (ctx, err) => deps.logger.error({ err, path: ctx.path }, 'oidc server_error'));
  const ring = new SigningKeyRing(keys, signingKeys, (next) =>
    replaceProviderKeys(
      provider,
      next.map((k) => k.jwk),
    ),
  );
  return { provider, keys, ring, policy, keyClients, clientCache };
}
