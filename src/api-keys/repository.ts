import { httpErrors } from '../http/errors.ts';
import type { Collection, CollectionSpec, Filter, Storage, Update } from '../storage/port.ts';
import type { KeyEnvironment } from './format.ts';
import type { ApiKeyRecord, KeyStatus } from './model.ts';

export const apiKeysSpec: CollectionSpec = {
  name: 'api_keys',
  indexes: [
    { fields: ['digest'], unique: true },
    { fields: ['previousDigest'] },
    { fields: ['workspaceId', 'sortKey'] },
    { fields: ['expiresAt'] },
    // The revocation feed reads keys changed since a time.
    { fields: ['updatedAt'] },
  ],
};

export const NO_EXPIRY_MS = Number.MAX_SAFE_INTEGER;

export interface ListOptions {
  status?: KeyStatus;
  environment?: KeyEnvironment;
  limit?: number;
  cursor?: string;
}

export interface Page<T> {
  data: T[];
  /** Pass back as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

const SORT_KEY_RE = /^\d{14}key_[0-9A-Za-z]{16}$/;

export function sortKeyOf(createdAt: Date, id: string): string {
  return `${String(createdAt.getTime()).padStart(14, '0')}${id}`;
}

export function encodeCursor(sortKey: string): string {
  return Buffer.from(sortKey, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const sortKey = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!SORT_KEY_RE.test(sortKey))
    throw httpErrors.badRequest('cursor: not a cursor this API handed out', { field: 'cursor' });
  return sortKey;
}

/** Storage of API keys: every read of one workspace's key is pinned to that workspace. */
export class ApiKeyRepository {
  readonly keys: Collection<ApiKeyRecord>;

  constructor(storage: Storage) {
    this.keys = storage.collection<ApiKeyRecord>(apiKeysSpec);
  }

  insert(record: ApiKeyRecord): Promise<void> {
    return this.keys.insert(record);
  }

  get(workspaceId: string, id: string): Promise<ApiKeyRecord | null> {
    return this.keys.findOne({ id, workspaceId });
  }

  /** The key whose current secret has this digest, or whose previous one does and is still in its grace period. */
  async byDigest(digest: string, now: Date): Promise<{ record: ApiKeyRecord; previous: boolean } | null> {
    const current = await this.keys.findOne({ digest });
    if (current) return { record: current, previous: false };
    const previous = await this.keys.findOne({
      previousDigest: digest,
      previousDigestExpiresAt: { $gt: now },
    });
    return previous ? { record: previous, previous: true } : null;
  }

  /** A conditional update of one workspace's key: null when the key is missing or `extra` does not hold. */
  update(
    workspaceId: string,
    id: string,
    extra: Filter<ApiKeyRecord>,
    update: Update<ApiKeyRecord>,
  ): Promise<ApiKeyRecord | null> {
    return this.keys.update({ ...extra, id, workspaceId }, update);
  }

  async list(workspaceId: string, options: ListOptions, now: Date): Promise<Page<ApiKeyRecord>> {
    const limit = options.limit ?? 20;
    const filter: Filter<ApiKeyRecord> = { workspaceId };
    if (options.environment) filter.environment = options.environment;
    if (options.status === 'revoked') filter.revokedAt = { $ne: null };
    else if (options.status === 'active')
      Object.assign(filter, { revokedAt: null, expiresAtMs: { $gt: now.getTime() } });
    else if (options.status === 'expired')
      Object.assign(filter, { revokedAt: null, expiresAtMs: { $lte: now.getTime() } });
    if (options.cursor) filter.sortKey = { $lt: decodeCursor(options.cursor) };
    const rows = await this.keys.find(filter, {
      sort: { field: 'sortKey', order: 'desc' },
      limit: limit + 1,
    });
    const data = rows.slice(0, limit);
    const more = rows.length > limit;
    return { data, nextCursor: more ? encodeCursor(data[data.length - 1]!.sortKey) : null };
  }

  /** Keys not revoked whose expiry falls in (from, to] (for the `key.expiring` webhook scanner). */
  findExpiringBetween(from: Date, to: Date): Promise<ApiKeyRecord[]> {
    return this.keys.find({ revokedAt: null, expiresAt: { $gt: from, $lte: to } });
  }

  /** Writes the coalesced "last used" of one key (not workspace-pinned: the id comes from a verified record). */
  async touch(id: string, at: Date, ip: string | null): Promise<void> {
    await this.keys.update({ id }, { set: { lastUsedAt: at, lastUsedIp: ip } });
  }
}
