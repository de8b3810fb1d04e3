import mongoose, { type Connection, type Model, Schema } from 'mongoose';
import {
  type Clock,
  type Collection,
  type CollectionSpec,
  type Doc,
  DuplicateKeyError,
  type Filter,
  type FindOptions,
  type Storage,
  StorageUnavailableError,
  systemClock,
  type Update,
} from '../port.ts';
import { DocumentLocks } from './locks.ts';

type Plain = Record<string, unknown>;

export interface MongoStorageOptions {
  uri: string;
  /** How long an operation waits for a reachable server before failing (never forever). */
  timeoutMs?: number;
  clock?: Clock;
  sweepIntervalMs?: number;
  onWarning?: (message: string) => void;
}

/**
 * The production store. Mongoose manages the connection with buffering off, so a lost server
 * fails requests within `timeoutMs` instead of queueing them forever, and `ping` tells the truth.
 * Expiring collections get a TTL index, or a periodic sweep on servers that lack TTL indexes.
 */
export class MongoStorage implements Storage {
  readonly kind = 'mongo' as const;
  description: string;
  private readonly collections = new Map<string, MongoCollection<Doc>>();
  private readonly sweeps: NodeJS.Timeout[] = [];
  readonly clock: Clock;
  /** Set on servers whose conditional updates are not atomic; see locks.ts. */
  locks: DocumentLocks | undefined;

  private constructor(
    readonly connection: Connection,
    private readonly options: MongoStorageOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.description = 'MongoDB';
  }

  static async open(options: MongoStorageOptions): Promise<MongoStorage> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const connection = mongoose.createConnection(options.uri, {
      bufferCommands: false,
      autoIndex: false,
      autoCreate: false,
      serverSelectionTimeoutMS: timeoutMs,
      socketTimeoutMS: Math.max(timeoutMs * 6, 30_000),
    });
    try {
      await connection.asPromise();
    } catch (err) {
      await connection.close().catch(() => {});
      throw new StorageUnavailableError(`cannot reach MongoDB: ${(err as Error).message}`, { cause: err });
    }
    const store = new MongoStorage(connection, options);
    const info = await connection.db!.admin().command({ buildInfo: 1 });
    const host = connection.host ? `${connection.host}:${connection.port}` : 'server';
    store.description = info.ferretdbVersion
      ? `FerretDB ${info.ferretdbVersion} (MongoDB ${info.version} protocol) at ${host}/${connection.name}`
      : `MongoDB ${info.version} at ${host}/${connection.name}`;
    if (info.ferretdbVersion) {
      store.locks = new DocumentLocks(connection.db!.collection('gatehouse_locks'));
    }
    return store;
  }

  collection<T extends Doc>(spec: CollectionSpec): Collection<T> {
    let c = this.collections.get(spec.name);
    if (!c) {
      c = new MongoCollection(this, spec);
      this.collections.set(spec.name, c);
    }
    return c as unknown as Collection<T>;
  }

  async ensureIndexes(): Promise<void> {
    for (const c of this.collections.values()) {
      const expiring = await c.ensureIndexes();
      if (expiring === 'sweep') {
        const interval = this.options.sweepIntervalMs ?? 60_000;
        const timer = setInterval(() => void c.sweep().catch(() => {}), interval);
        timer.unref();
        this.sweeps.push(timer);
      }
    }
  }

  /** Deletes the expired documents of every collection now (reads already hide them); answers how many went. */
  async sweepExpired(): Promise<number> {
    let n = 0;
    for (const c of this.collections.values()) n += await c.sweep();
    return n;
  }

  warn(message: string): void {
    this.options.onWarning?.(message);
  }

  async ping(): Promise<void> {
    if (this.connection.readyState !== 1) throw new StorageUnavailableError('MongoDB connection is not open');
    await this.connection.db!.admin().command({ ping: 1 });
  }

  async close(): Promise<void> {
    for (const t of this.sweeps) clearInterval(t);
    await this.connection.close();
  }
}

function toMongoFilter(filter: Plain): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries(filter)) {
    if (v === undefined) continue;
    out[k === 'id' ? '_id' : k] = v;
  }
  return out;
}

function fromMongo<T>(doc: Plain | null): T | null {
  if (!doc) return null;
  const { _id, ...rest } = doc;
  return { id: _id, ...rest } as T;
}

function isDuplicate(err: unknown): boolean {
  const { code, message } = err as { code?: number; message?: string };
  // FerretDB's SQLite backend answers a unique violation by update or replace as InternalError.
  return code === 11000 || (code === 1 && /UNIQUE constraint failed/.test(message ?? ''));
}

class MongoCollection<T extends Doc> implements Collection<T> {
  // biome-ignore lint/suspicious/noExplicitAny: schemaless model; documents are the port's plain objects
  private readonly model: Model<any>;

  constructor(
    private readonly store: MongoStorage,
    private readonly spec: CollectionSpec,
  ) {
    const schema = new Schema<Plain>(
      { _id: String },
      { strict: false, strictQuery: false, versionKey: false, _id: false },
    );
    this.model = store.connection.model(spec.name, schema, spec.name);
  }

  /** Answers 'sweep' when expiry must be enforced by a periodic delete instead of a TTL index. */
  async ensureIndexes(): Promise<'ttl' | 'sweep' | 'none'> {
    const native = this.model.collection;
    for (const index of this.spec.indexes ?? []) {
      const keys = Object.fromEntries(index.fields.map((f) => [f, 1 as const]));
      await native.createIndex(keys, { unique: !!index.unique });
    }
    const field = this.spec.expiresField;
    if (!field) return 'none';
    try {
      await native.createIndex({ [field]: 1 }, { expireAfterSeconds: 0 });
      return 'ttl';
    } catch (err) {
      await native.createIndex({ [field]: 1 });
      this.store.warn(
        `${this.spec.name}: the server has no TTL indexes (${(err as Error).message}); expired documents are swept periodically`,
      );
      return 'sweep';
    }
  }

  async sweep(): Promise<number> {
    const field = this.spec.expiresField;
    if (!field) return 0;
    const res = await this.model.collection.deleteMany({ [field]: { $lte: this.store.clock.now() } });
    return res.deletedCount;
  }

  /** Adds "not expired" to a filter, so expiry is exact on read whatever the sweep's pace. */
  private live(filter: Plain): Plain {
    const q = toMongoFilter(filter);
    const field = this.spec.expiresField;
    if (!field) return q;
    const notExpired = { $or: [{ [field]: null }, { [field]: { $gt: this.store.clock.now() } }] };
    return Object.keys(q).length ? { $and: [q, notExpired] } : notExpired;
  }

  private get native() {
    return this.model.collection;
  }

  async insert(doc: T): Promise<void> {
    const { id, ...rest } = doc as unknown as Plain;
    try {
      await this.native.insertOne({ _id: id, ...rest } as never);
    } catch (err) {
      if (isDuplicate(err)) throw new DuplicateKeyError(this.spec.name, await this.duplicateFields(err, doc));
      throw err;
    }
  }

  async put(doc: T): Promise<void> {
    const { id, ...rest } = doc as unknown as Plain;
    try {
      await this.native.replaceOne({ _id: id } as never, rest, { upsert: true });
    } catch (err) {
      if (isDuplicate(err)) throw new DuplicateKeyError(this.spec.name, await this.duplicateFields(err, doc));
      throw err;
    }
  }

  /**
   * The key a write collided on: from the server's keyPattern or index name or, on servers that
   * report neither (FerretDB), from another document that holds the written values.
   */
  private async duplicateFields(err: unknown, written: object | null): Promise<readonly string[]> {
    const keyPattern = (err as { keyPattern?: Plain }).keyPattern;
    if (keyPattern) return Object.keys(keyPattern).map((k) => (k === '_id' ? 'id' : k));
    const message = (err as Error).message;
    const unique = (this.spec.indexes ?? []).filter((i) => i.unique);
    const named = unique.find((i) => message.includes(`index: ${i.fields.map((f) => `${f}_1`).join('_')} `));
    if (named) return named.fields;
    const doc = written as Plain | null;
    for (const index of doc ? unique : []) {
      const values = index.fields.map((f) => [
        f,
        f.split('.').reduce<unknown>((v, k) => (v as Plain)?.[k], doc),
      ]);
      const taken = { _id: { $ne: doc!.id }, ...Object.fromEntries(values.map(([f, v]) => [f, v ?? null])) };
      if (await this.native.findOne(taken as never)) return index.fields;
    }
    return ['id'];
  }

  async get(id: string): Promise<T | null> {
    return fromMongo<T>((await this.native.findOne(this.live({ id }))) as Plain | null);
  }

  async findOne(filter: Filter<T>): Promise<T | null> {
    return fromMongo<T>((await this.native.findOne(this.live(filter))) as Plain | null);
  }

  async find(filter: Filter<T>, options: FindOptions<T> = {}): Promise<T[]> {
    let cursor = this.native.find(this.live(filter));
    if (options.sort) {
      const field = options.sort.field === 'id' ? '_id' : options.sort.field;
      cursor = cursor.sort({ [field]: options.sort.order === 'desc' ? -1 : 1 });
    }
    if (options.limit !== undefined) cursor = cursor.limit(options.limit);
    return (await cursor.toArray()).map((d) => fromMongo<T>(d as Plain)!);
  }

  async count(filter: Filter<T>): Promise<number> {
    return this.native.countDocuments(this.live(filter));
  }

  async update(filter: Filter<T>, update: Update<T>): Promise<T | null> {
    const ops: Plain = {};
    const set = Object.fromEntries(Object.entries(update.set ?? {}).filter(([, v]) => v !== undefined));
    if (Object.keys(set).length) ops.$set = set;
    if (update.unset?.length) ops.$unset = Object.fromEntries(update.unset.map((k) => [k, '']));
    if (update.inc && Object.keys(update.inc).length) ops.$inc = update.inc;
    if (!Object.keys(ops).length) return this.findOne(filter);
    try {
      const doc = await this.findOneAndUpdate(this.live(filter), ops);
      return fromMongo<T>(doc);
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      const current = await this.findOne(filter);
      throw new DuplicateKeyError(
        this.spec.name,
        await this.duplicateFields(err, current && { ...current, ...set }),
      );
    }
  }

  private async findOneAndUpdate(filter: Plain, ops: Plain): Promise<Plain | null> {
    const locks = this.store.locks;
    if (!locks)
      return (await this.native.findOneAndUpdate(filter, ops, { returnDocument: 'after' })) as Plain | null;
    // Find the target, then change it only while holding its lock and only if it still matches.
    const target = (await this.native.findOne(filter, { projection: { _id: 1 } })) as Plain | null;
    if (!target) return null;
    return locks.withLock(`${this.spec.name}:${String(target._id)}`, async () => {
      const pinned = { $and: [filter, { _id: target._id }] };
      return (await this.native.findOneAndUpdate(pinned, ops, { returnDocument: 'after' })) as Plain | null;
    });
  }

  async delete(filter: Filter<T>): Promise<number> {
    const res = await this.native.deleteMany(this.live(filter));
    return res.deletedCount;
  }
}
