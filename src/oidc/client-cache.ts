import type Provider from 'oidc-provider';
import { FIRST_PARTY_CLIENT_ID, REGISTERED_CLIENT_KIND } from './client-lookup.ts';

/**
 * oidc-provider looks its clients up on every request to the token, introspection and revocation
 * endpoints: a store read, the client's metadata rebuilt, serialised and hashed to find the
 * Client it built before. On the embedded store this cache keeps the registered clients' Client
 * instances by id instead. It is exact, not merely bounded: that store has one writer (the
 * process holding its lock), every change to a registered client passes through ClientService,
 * which calls `forget` (DESIGN: cache clients with an invalidation path). API keys as clients are
 * not kept here: whether a key may still act as a client is decided on each request from its
 * record (key-clients.ts).
 */
export class ClientCache {
  private readonly byId = new Map<string, unknown>();
  /** Bumped by every forget: a lookup that overlapped one is not kept (it may predate the change). */
  private epoch = 0;

  constructor(
    private readonly lookUp: (id: string) => Promise<unknown>,
    private readonly maxEntries = 10_000,
  ) {}

  async find(id: string): Promise<unknown> {
    const hit = this.byId.get(id);
    if (hit) return hit;
    const epoch = this.epoch;
    const client = await this.lookUp(id);
    // Misses are not kept: a client created next must be found.
    if (client && epoch === this.epoch && kept(client)) {
      if (this.byId.size >= this.maxEntries) this.byId.clear();
      this.byId.set(id, client);
    }
    return client;
  }

  /** Drops a client that changed (updated, new secret, deleted). */
  forget(id: string): void {
    this.epoch++;
    this.byId.delete(id);
  }
}

function kept(client: unknown): boolean {
  const c = client as { clientId?: string; gatehouse_kind?: string };
  return c.gatehouse_kind === REGISTERED_CLIENT_KIND || c.clientId === FIRST_PARTY_CLIENT_ID;
}

/** Puts the cache in front of the provider's own client lookup. */
export function cacheProviderClients(provider: Provider): ClientCache {
  const model = provider.Client as unknown as { find(id: string): Promise<unknown> };
  const cache = new ClientCache(model.find.bind(model));
  model.find = (id: string) => cache.find(id);
  return cache;
}
