import type { User } from '../accounts/model.ts';
import type { ApiKeyService } from '../api-keys/service.ts';
import { ClientService } from '../clients/service.ts';
import type { Logger } from '../logger.ts';
import type { Clock, Storage } from '../storage/index.ts';
import type { WorkspaceService } from '../workspaces/service.ts';
import { keyHolder, registeredClientHolder } from './credentials.ts';
import { createProvider, type OidcCore } from './provider.ts';
import { apiResource } from './resources.ts';
import { installTokenEndpointExtensions } from './token-endpoints.ts';
import { OidcTokenService } from './tokens.ts';

export interface OidcCoreDeps {
  issuer: string;
  storage: Storage;
  clock: Clock;
  logger: Logger;
  cookieSecrets: string[] | undefined;
  trustProxy: boolean;
  signingKeysPollMs: number;
  refreshReuseGraceSeconds: number;
  accounts: { getUser(id: string): Promise<User | null> };
  workspaces: WorkspaceService;
  apiKeys: ApiKeyService;
}

export interface OidcServices extends OidcCore {
  tokens: OidcTokenService;
  clients: ClientService;
  /** Stops the signing-key poller. */
  stop(): void;
}

/** The provider and what shares its keys and models: the client registry and the token service. */
export async function createOidcCore(d: OidcCoreDeps): Promise<OidcServices> {
  const clients = new ClientService(d.storage, d.clock, d.workspaces, [apiResource(d.issuer)]);
  const core = await createProvider({
    issuer: d.issuer,
    storage: d.storage,
    clock: d.clock,
    logger: d.logger,
    cookieSecrets: d.cookieSecrets,
    trustProxy: d.trustProxy,
    accounts: d.accounts,
    workspaces: d.workspaces,
    catalogue: d.apiKeys.scopes,
    clients,
    apiKeys: d.apiKeys,
  });
  const tokens = new OidcTokenService({
    provider: core.provider,
    storage: d.storage,
    clock: d.clock,
    issuer: d.issuer,
    ring: core.ring,
    workspaces: d.workspaces,
    accounts: d.accounts,
    refreshReuseGraceSeconds: d.refreshReuseGraceSeconds,
    grantlessHolder: async (id) => {
      const registered = await clients.find(id);
      if (registered) return registeredClientHolder(registered);
      const key = await core.keyClients.record(id);
      return key ? keyHolder(key, d.clock.now()) : null;
    },
  });
  clients.onDeleted = (id) => tokens.revokeClient(id);
  clients.onChanged = (id) => core.clientCache?.forget(id);
  installTokenEndpointExtensions(core.provider, { tokens, apiKeys: d.apiKeys });
  core.ring.start(d.signingKeysPollMs, (err) => d.logger.warn({ err }, 'could not reload the signing keys'));
  return { ...core, tokens, clients, stop: () => core.ring.stop() };
}
