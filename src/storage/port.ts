/**
 * The storage port: a small document API that both stores implement identically and that the
 * contract suite (test/contract) pins down. Domain repositories (oidc models, signing keys,
 * workspaces, API keys, ...) are written once on top of it.
 *
 * Semantics both stores honour:
 * - documents are plain objects with a string `id`; values are JSON values or Date;
 * - `insert` fails with DuplicateKeyError on a taken id or unique index value;
 * - `update` is atomic: the filter is the precondition, the first matching document is changed
 *   and returned as it is after the change, or null when nothing matched;
 * - a collection with `expiresField` hides documents whose date there is <= clock.now() on every
 *   read, and removes them in the background (TTL index or periodic sweep).
 */
export type Scalar = string | number | boolean | Date | null;

export interface Doc {
  id: string;
}

type FieldOps<V> = {
  $in?: V[];
  $nin?: V[];
  $ne?: V | null;
  $lt?: V;
  $lte?: V;
  $gt?: V;
  $gte?: V;
  $exists?: boolean;
};

export type Condition<V> = V | null | FieldOps<V>;

/** Equality and comparison on top-level fields (or dotted paths into sub-objects); all must hold. */
export type Filter<T> = { [K in keyof T]?: Condition<T[K]> } & { [path: string]: unknown };

export interface Update<T> {
  set?: Partial<T>;
  unset?: (keyof T & string)[];
  inc?: { [K in keyof T]?: number };
}

export interface FindOptions<T> {
  sort?: { field: keyof T & string; order: 'asc' | 'desc' };
  limit?: number;
}

export interface IndexSpec {
  fields: readonly string[];
  unique?: boolean;
}

export interface CollectionSpec {
  name: string;
  indexes?: readonly IndexSpec[];
  /** A Date field after which a document no longer exists. */
  expiresField?: string;
}

export interface Collection<T extends Doc> {
  insert(doc: T): Promise<void>;
  /** Creates or replaces the whole document with this id. */
  put(doc: T): Promise<void>;
  get(id: string): Promise<T | null>;
  findOne(filter: Filter<T>): Promise<T | null>;
  find(filter: Filter<T>, options?: FindOptions<T>): Promise<T[]>;
  count(filter: Filter<T>): Promise<number>;
  update(filter: Filter<T>, update: Update<T>): Promise<T | null>;
  /** Deletes every matching document; answers how many. */
  delete(filter: Filter<T>): Promise<number>;
}

export interface Storage {
  readonly kind: 'embedded' | 'mongo';
  /** A human description for logs: the data directory or the server's address and version. */
  readonly description: string;
  collection<T extends Doc>(spec: CollectionSpec): Collection<T>;
  /** Creates the indexes of every collection declared so far; called once at start. */
  ensureIndexes(): Promise<void>;
  /** Throws when the store cannot answer right now. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DuplicateKeyError extends Error {
  constructor(
    readonly collection: string,
    readonly fields: readonly string[],
  ) {
    super(`duplicate value in ${collection} for ${fields.join(', ')}`);
    this.name = 'DuplicateKeyError';
  }
}

export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * Bounded counters and balances on any store, atomically: applies `update` to document `id` while
 * `condition` holds; when there is no such document, creates `created` (another process may create
 * it first: then the update is tried again). Null when the document exists but the condition does
 * not hold (the bound is reached).
 */
export async function updateOrCreate<T extends Doc>(
  collection: Collection<T>,
  id: string,
  condition: Filter<T>,
  update: Update<T>,
  created: () => T,
): Promise<T | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const updated = await collection.update({ ...condition, id } as Filter<T>, update);
    if (updated) return updated;
    if (await collection.get(id)) return null;
    const doc = created();
    try {
      await collection.insert(doc);
      return doc;
    } catch (err) {
      if (!(err instanceof DuplicateKeyError)) throw err;
    }
  }
  throw new Error(`${id} kept changing under concurrent writes`);
}
