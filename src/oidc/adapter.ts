import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Clock, Collection, Storage } from '../storage/index.ts';

/** One document per oidc-provider model instance (session, grant, code, token, interaction...). */
export interface OidcModelDoc {
  id: string; // `${model}:${modelId}`
  model: string;
  payload: AdapterPayload;
  uid?: string;
  userCode?: string;
  grantId?: string;
  consumed?: number;
  expiresAt?: Date;
}

export const OIDC_MODELS = {
  name: 'oidc_models',
  indexes: [{ fields: ['model', 'uid'] }, { fields: ['model', 'userCode'] }, { fields: ['grantId'] }],
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
export function createAdapterClass(storage: Storage, clock: Clock): new (model: string) => Adapter {
  const models: Collection<OidcModelDoc> = storage.collection<OidcModelDoc>(OIDC_MODELS);

  return class StorageAdapter implements Adapter {
    constructor(readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      const doc: OidcModelDoc = { id: this.key(id), model: this.model, payload };
      if (payload.uid) doc.uid = payload.uid;
      if (payload.userCode) doc.userCode = payload.userCode;
      if (payload.grantId && GRANTABLE.has(this.model)) doc.grantId = payload.grantId;
      if (expiresIn) doc.expiresAt = new Date(clock.now().getTime() + expiresIn * 1000);
      await models.put(doc);
    }

    private static unpack(doc: OidcModelDoc | null): AdapterPayload | undefined {
      if (!doc) return undefined;
      return doc.consumed ? { ...doc.payload, consumed: doc.consumed } : doc.payload;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return StorageAdapter.unpack(await models.get(this.key(id)));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return StorageAdapter.unpack(await models.findOne({ model: this.model, uid }));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return StorageAdapter.unpack(await models.findOne({ model: this.model, userCode }));
    }

    async consume(id: string): Promise<void> {
      await models.update(
        { id: this.key(id) },
        { set: { consumed: Math.floor(clock.now().getTime() / 1000) } },
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
