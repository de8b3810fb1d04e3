import { type Adapter, type AdapterPayload, errors } from 'oidc-provider';
import type { Clock, Collection, Storage } from '../storage/index.ts';

/** One document per oidc-provider model instance (session, grant, code, token, interaction...). */
export interface OidcModelDoc {
  id: string; // `${model}:${modelId}`
  model: string;
  /**
   * JSON text: payloads hold keys no document store takes as field names (a Grant's `resources`
   * is keyed by resource URL, and MongoDB-compatible servers refuse "." in keys).
   */
  payload: string | AdapterPayload;
  clientId?: string;
  uid?: string;
  userCode?: string;
  grantId?: string;
  consumed?: number;
  /** A spent refresh token's successor pair (JSON), kept for the reuse grace window (tokens.ts). */
  successor?: string;
  expiresAt?: Date;
}

export const OIDC_MODELS = {
  name: 'oidc_models',
  indexes: [
    { fields: ['model', 'uid'] },
    { fields: ['model', 'userCode'] },
    { fields: ['grantId'] },
    { fields: ['clientId'] },
  ],
  expiresField: 'expiresAt',
} as const;

/** Models whose grant-wide revocation oidc-provider expects `revokeByGrantId` to reach. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/**
 * Builds the Adapter class oidc-provider instantiates once per model name. Expiry is honoured on
 * read by the store (through the injected clock), so an expired code or token is never found.
 */
export function createAdapterClass(
  storage: Storage,
  clock: Clock,
  options: { findClient?: (id: string) => Promise<AdapterPayload | undefined> } = {},
): new (
  model: string,
) => Adapter {
  const models: Collection<OidcModelDoc> = storage.collection<OidcModelDoc>(OIDC_MODELS);

  return class StorageAdapter implements Adapter {
    constructor(readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const doc: OidcModelDoc = { id: this.key(id), model: this.model, payload: JSON.stringify(payload) };
      if (typeof payload.clientId === 'string') doc.clientId = payload.clientId;
      if (payload.uid) doc.uid = payload.uid;
      if (payload.userCode) doc.userCode = payload.userCode;
      if (payload.grantId && GRANTABLE.has(this.model)) doc.grantId = payload.grantId;
      if (expiresIn) doc.expiresAt = new Date(clock.now().getTime() + expiresIn * 1000);
      await models.put(doc);
    }

    private static unpack(doc: OidcModelDoc | null): AdapterPayload | undefined {
      if (!doc) return undefined;
      // Documents written before payloads became JSON text are still read.
      const payload =
        typeof doc.payload === 'string' ? (JSON.parse(doc.payload) as AdapterPayload) : doc.payload;
      return doc.consumed ? { ...payload, consumed: doc.consumed } : payload;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      // Clients live in their own registry (client-lookup.ts), not among the protocol's models.
      if (this.model === 'Client' && options.findClient) return options.findClient(id);
      return StorageAdapter.unpack(await models.get(this.key(id)));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return StorageAdapter.unpack(await models.findOne({ model: this.model, uid }));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return StorageAdapter.unpack(await models.findOne({ model: this.model, userCode }));
    }

    /**
     * Atomic: of concurrent redemptions of one code (or one refresh token), exactly one consumes
     * it. The others are reuse: the grant and everything issued under it are revoked, and the
     * provider answers invalid_grant (RFC 6749 §4.1.2: a code used twice revokes its tokens).
     */
    async consume(id: string): Promise<void> {
      const consumed = Math.floor(clock.now().getTime() / 1000);
      const won = await models.update(
        { id: this.key(id), consumed: { $exists: false } },
        { set: { consumed } },
      );
      if (won) return;
      const doc = await models.get(this.key(id));
      if (!doc) return;
      if (doc.grantId) {
        await models.delete({ grantId: doc.grantId });
        await models.delete({ id: `Grant:${doc.grantId}` });
      }
      throw new errors.InvalidGrant(
        `${this.model === 'AuthorizationCode' ? 'authorization code' : 'token'} already consumed`,
      );
    }

    async destroy(id: string): Promise<void> {
      await models.delete({ id: this.key(id) });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await models.delete({ grantId });
    }
  };
}
