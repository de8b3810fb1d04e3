import { resolve } from 'node:path';
import {
  type Clock,
  type Collection,
  type CollectionSpec,
  type Doc,
  DuplicateKeyError,
  type Filter,
  type FindOptions,
  type Storage,
  systemClock,
  type Update,
} from '../port.ts';
import { Journal, type JournalOp } from './journal.ts';
import { applyUpdate, getPath, matches, sortAndLimit } from './query.ts';

type Plain = Record<string, unknown>;

/**
 * The zero-setup store: every document lives in memory (reads are map lookups) and every change
 * is journaled to DATA_DIR before it is acknowledged. One process per data directory.
 */
export class EmbeddedStorage implements Storage {
  readonly kind = 'embedded' as const;
  readonly description: string;
  private readonly data = new Map<string, Map<string, Plain>>();
  private readonly collections = new Map<string, EmbeddedCollection<Doc>>();
  private readonly journal: Journal;
  private closed = false;

  private constructor(
    dataDir: string,
    readonly clock: Clock,
  ) {
    this.journal = new Journal(resolve(dataDir));
    this.description = `embedded store in ${resolve(dataDir)}`;
  }

  static async open(
    dataDir: string,
    options: { clock?: Clock; sweepIntervalMs?: number } = {},
  ): Promise<EmbeddedStorage> {
    const store = new EmbeddedStorage(dataDir, options.clock ?? systemClock);
    await store.journal.open((op) => store.replay(op));
    store.sweeper = setInterval(() => void store.sweepExpired(), options.sweepIntervalMs ?? 60_000);
    store.sweeper.unref();
    return store;
  }

  private sweeper: NodeJS.Timeout | undefined;

  /** Forgets expired documents (reads already hide them); answers how many went. */
  async sweepExpired(): Promise<number> {
    let n = 0;
    for (const c of this.collections.values()) n += await c.deleteExpired();
    return n;
  }

  private replay(op: JournalOp): void {
    const docs = this.docs(op.c);
    const id = op.op === 'put' ? (op.doc.id as string) : op.id;
    const before = docs.get(id);
    if (op.op === 'put') docs.set(id, op.doc);
    else docs.delete(id);
    this.collections.get(op.c)?.reindex(id, before, op.op === 'put' ? op.doc : undefined);
  }

  docs(name: string): Map<string, Plain> {
    let docs = this.data.get(name);
    if (!docs) {
      docs = new Map();
      this.data.set(name, docs);
    }
    return docs;
  }

  collection<T extends Doc>(spec: CollectionSpec): Collection<T> {
    let c = this.collections.get(spec.name);
    if (!c) {
      c = new EmbeddedCollection(this, spec);
      this.collections.set(spec.name, c);
    }
    return c as unknown as Collection<T>;
  }

  async write(op: JournalOp): Promise<void> {
    if (this.closed) throw new Error('embedded store is closed');
    this.replay(op);
    await this.journal.append(op);
    if (this.journal.needsCompaction) await this.journal.compact(() => this.allOps());
  }

  private *allOps(): Iterable<JournalOp> {
    for (const [c, docs] of this.data) for (const doc of docs.values()) yield { op: 'put', c, doc };
  }

  async ensureIndexes(): Promise<void> {
    // Indexes are built in memory as collections are declared.
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('embedded store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    await this.journal.close();
  }
}

type Index = {
  fields: readonly string[];
  /** The one field of a single-field index (the common case: a cheaper lookup path). */
  field: string | undefined;
  unique: boolean;
  entries: Map<string, Set<string>>;
  multikey: boolean;
};

const indexKey = (fields: readonly string[], doc: Plain) =>
  JSON.stringify(fields.map((f) => getPath(doc, f) ?? null));

/** A filter value the indexes can look up: a plain scalar, null or a Date (not an operator object). */
const pinned = (v: unknown) => v === null || (v !== undefined && typeof v !== 'object') || v instanceof Date;

const NO_IDS: readonly string[] = [];

/**
 * A deep copy of a stored document, so callers never hold (or mutate) what the store keeps.
 * Stored documents are JSON-like with Dates (that is what the journal can persist), which this
 * copies far more cheaply than structuredClone; anything else falls back to structuredClone.
 */
function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copy(value[i]);
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Plain = {};
  for (const k in value) {
    if (k === '__proto__')
      Object.defineProperty(out, k, {
        value: copy((value as Plain)[k]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[k] = copy((value as Plain)[k]);
  }
  return out;
}

const copyDoc = <T>(doc: Plain): T => copy(doc) as T;

class EmbeddedCollection<T extends Doc> implements Collection<T> {
  private readonly indexes: Index[];

  constructor(
    private readonly store: EmbeddedStorage,
    private readonly spec: CollectionSpec,
  ) {
    this.indexes = (spec.indexes ?? []).map((i) => ({
      fields: i.fields,
      field: i.fields.length === 1 ? i.fields[0] : undefined,
      unique: !!i.unique,
      entries: new Map(),
      multikey: false,
    }));
    for (const doc of this.docs.values()) this.reindex(doc.id as string, undefined, doc);
  }

  /** Keeps the secondary indexes in step with a change to one document. */
  reindex(id: string, before: Plain | undefined, after: Plain | undefined): void {
    for (const index of this.indexes) {
      if (before) {
        const k = indexKey(index.fields, before);
        const ids = index.entries.get(k);
        ids?.delete(id);
        if (ids?.size === 0) index.entries.delete(k);
      }
      if (after) {
        // A filter value matches any element of an array, which the index does not key by.
        if (index.fields.some((f) => Array.isArray(getPath(after, f)))) index.multikey = true;
        const k = indexKey(index.fields, after);
        const ids = index.entries.get(k) ?? new Set();
        ids.add(id);
        index.entries.set(k, ids);
      }
    }
  }

  async deleteExpired(): Promise<number> {
    if (!this.spec.expiresField) return 0;
    const dead: string[] = [];
    for (const [id, doc] of this.docs) if (!this.live(doc)) dead.push(id);
    await Promise.all(dead.map((id) => this.store.write({ op: 'del', c: this.spec.name, id })));
    return dead.length;
  }

  /** Ids a filter can only match, from an index whose fields it pins to plain values. */
  private candidates(filter: Plain): Iterable<string> | undefined {
    if (typeof filter.id === 'string') return [filter.id];
    // Filter keys are whole (possibly dotted) paths; an undefined value is no condition at all.
    for (const index of this.indexes) {
      if (index.multikey) continue;
      let key: string;
      if (index.field !== undefined) {
        const v = filter[index.field];
        if (!pinned(v)) continue;
        key = JSON.stringify([v]);
      } else if (index.fields.every((f) => pinned(filter[f]))) {
        key = JSON.stringify(index.fields.map((f) => filter[f]));
      } else continue;
      // A copy: callers may write (and so reindex) while they walk the candidates.
      const ids = index.entries.get(key);
      return ids === undefined ? NO_IDS : ids.size === 1 ? [ids.values().next().value as string] : [...ids];
    }
    return undefined;
  }

  private get docs(): Map<string, Plain> {
    return this.store.docs(this.spec.name);
  }

  private live(doc: Plain | undefined): doc is Plain {
    if (!doc) return false;
    const field = this.spec.expiresField;
    if (!field) return true;
    const at = doc[field];
    return !(at instanceof Date) || at.getTime() > this.store.clock.now().getTime();
  }

  private *scan(filter: Plain): Iterable<Plain> {
    const ids = this.candidates(filter);
    if (ids) {
      for (const id of ids) {
        const doc = this.docs.get(id);
        if (this.live(doc) && matches(doc, filter)) yield doc;
      }
      return;
    }
    for (const doc of this.docs.values()) if (this.live(doc) && matches(doc, filter)) yield doc;
  }

  /** Unique indexes as MongoDB enforces them: over all stored documents, expired or not. */
  private assertUnique(doc: Plain, exceptId?: string): void {
    for (const index of this.indexes) {
      if (!index.unique) continue;
      for (const other of index.entries.get(indexKey(index.fields, doc)) ?? []) {
        if (other !== exceptId) throw new DuplicateKeyError(this.spec.name, index.fields);
      }
    }
  }

  async insert(doc: T): Promise<void> {
    const plain = structuredClone(doc) as unknown as Plain;
    if (this.docs.has(doc.id)) throw new DuplicateKeyError(this.spec.name, ['id']);
    this.assertUnique(plain);
    await this.store.write({ op: 'put', c: this.spec.name, doc: plain });
  }

  async put(doc: T): Promise<void> {
    const plain = structuredClone(doc) as unknown as Plain;
    this.assertUnique(plain, doc.id);
    await this.store.write({ op: 'put', c: this.spec.name, doc: plain });
  }

  async get(id: string): Promise<T | null> {
    const doc = this.docs.get(id);
    return this.live(doc) ? copyDoc<T>(doc) : null;
  }

  async findOne(filter: Filter<T>): Promise<T | null> {
    for (const doc of this.scan(filter)) return copyDoc<T>(doc);
    return null;
  }

  async find(filter: Filter<T>, options?: FindOptions<T>): Promise<T[]> {
    const all = [...this.scan(filter)];
    return sortAndLimit(all, options as FindOptions<Plain>).map((d) => copyDoc<T>(d));
  }

  async count(filter: Filter<T>): Promise<number> {
    let n = 0;
    for (const _ of this.scan(filter)) n++;
    return n;
  }

  async update(filter: Filter<T>, update: Update<T>): Promise<T | null> {
    // Check and change happen in one synchronous step, so no other write interleaves.
    for (const doc of this.scan(filter)) {
      const next = applyUpdate(doc, update as Update<Plain>);
      next.id = doc.id;
      this.assertUnique(next, doc.id as string);
      await this.store.write({ op: 'put', c: this.spec.name, doc: next });
      return structuredClone(next) as unknown as T;
    }
    return null;
  }

  async delete(filter: Filter<T>): Promise<number> {
    const ids = [...this.scan(filter)].map((d) => d.id as string);
    await Promise.all(ids.map((id) => this.store.write({ op: 'del', c: this.spec.name, id })));
    return ids.length;
  }
}
