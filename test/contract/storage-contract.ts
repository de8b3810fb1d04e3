/**
 * The storage contract: every semantic documented in src/storage/port.ts, run identically against
 * each store (embedded.test.ts, mongo.test.ts). A store passes this suite or it is not a store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CollectionSpec,
  type Doc,
  DuplicateKeyError,
  type Filter,
  type Storage,
} from '../../src/storage/port.ts';
import { type FakeClock, fakeClock, type StoreOptions } from '../helpers/stores.ts';

export type ContractStorage = Storage & {
  /** Removes expired documents now (what the background sweep does); answers how many went. */
  sweepExpired(): Promise<number>;
};

export interface ContractStore {
  storage: ContractStorage;
  cleanup(): Promise<void>;
}

export type OpenStore = (clock: FakeClock, options?: StoreOptions) => Promise<ContractStore>;

interface Person extends Doc {
  name: string;
  age?: number;
  team?: string | null;
  nick?: string | null;
  tags?: string[];
  born?: Date;
  profile?: { city: string; langs?: string[] };
}

const PEOPLE: Person[] = [
  {
    id: 'p1',
    name: 'ann',
    age: 30,
    team: 'red',
    nick: null,
    tags: ['a', 'b'],
    born: new Date('1990-01-01T00:00:00.000Z'),
    profile: { city: 'Oslo', langs: ['no', 'en'] },
  },
  {
    id: 'p2',
    name: 'bob',
    age: 25,
    team: 'blue',
    tags: ['b'],
    born: new Date('1995-06-01T12:30:00.000Z'),
    profile: { city: 'Rome' },
  },
  {
    id: 'p3',
    name: 'cid',
    age: 35,
    team: 'red',
    nick: 'c',
    tags: [],
    born: new Date('1985-03-03T00:00:00.000Z'),
    profile: { city: 'Oslo' },
  },
  { id: 'p4', name: 'dee', age: 41, born: new Date('1980-12-31T23:59:59.999Z'), profile: { city: 'Lima' } },
];

interface Account extends Doc {
  balance: number;
  version?: number;
  owner?: string;
  note?: string;
}

interface User extends Doc {
  email: string;
  tenant: string;
  slug: string;
}

interface Session extends Doc {
  user: string;
  expiresAt?: Date | null;
}

const USERS: CollectionSpec = {
  name: 'users',
  indexes: [
    { fields: ['email'], unique: true },
    { fields: ['tenant', 'slug'], unique: true },
    { fields: ['slug'] },
  ],
};
const SESSIONS: CollectionSpec = {
  name: 'sessions',
  indexes: [{ fields: ['user'] }],
  expiresField: 'expiresAt',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function storageContract(name: string, open: OpenStore): void {
  describe(`storage contract: ${name}`, () => {
    let clock: FakeClock;
    let store: ContractStore;
    let storage: ContractStorage;

    beforeEach(async () => {
      clock = fakeClock();
      store = await open(clock);
      storage = store.storage;
    });

    afterEach(async () => {
      await store.cleanup();
    });

    /** Declares a collection and creates its indexes, as the application does at start. */
    async function declare<T extends Doc>(spec: CollectionSpec) {
      const c = storage.collection<T>(spec);
      await storage.ensureIndexes();
      return c;
    }

    async function people() {
      const c = await declare<Person>({
        name: 'people',
        indexes: [
          { fields: ['team'] },
          { fields: ['name'] },
          { fields: ['tags'] },
          { fields: ['profile.city'] },
        ],
      });
      for (const p of PEOPLE) await c.insert(p);
      return c;
    }

    const expectDuplicate = async (p: Promise<unknown>, collection: string, fields: string[]) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DuplicateKeyError);
      expect((err as DuplicateKeyError).name).toBe('DuplicateKeyError');
      expect((err as DuplicateKeyError).collection).toBe(collection);
      expect([...(err as DuplicateKeyError).fields]).toEqual(fields);
    };

    describe('documents', () => {
      it('reports its kind and a description', () => {
        expect(storage.kind).toBe(name);
        expect(storage.description).toEqual(expect.any(String));
        expect(storage.description.length).toBeGreaterThan(0);
      });

      it('inserts and gets a document by id; an unknown id is null', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 5, owner: 'ann' });
        expect(await c.get('a1')).toEqual({ id: 'a1', balance: 5, owner: 'ann' });
        expect(await c.get('nope')).toBeNull();
      });

      it('hands out copies: changing an inserted or returned object changes nothing stored', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        const doc = { id: 'a1', balance: 5 };
        await c.insert(doc);
        doc.balance = 99;
        const got = (await c.get('a1'))!;
        got.balance = 42;
        const found = (await c.find({}))[0]!;
        found.balance = 43;
        expect(await c.get('a1')).toEqual({ id: 'a1', balance: 5 });
      });

      it("hands out deep copies: nested objects, arrays and Dates of a result are the caller's own", async () => {
        interface Deep extends Doc {
          tag: string;
          at: Date;
          inner: { list: { n: number }[]; when: Date };
        }
        const c = await declare<Deep>({ name: 'deep', indexes: [{ fields: ['tag'] }] });
        const at = new Date('2026-01-02T03:04:05.000Z');
        await c.insert({ id: 'd1', tag: 't', at, inner: { list: [{ n: 1 }], when: at } });
        for (const got of [
          (await c.get('d1'))!,
          (await c.findOne({ tag: 't' }))!,
          (await c.find({ tag: 't' }))[0]!,
        ]) {
          got.at.setTime(0);
          got.inner.when.setTime(0);
          got.inner.list[0]!.n = 99;
          got.inner.list.push({ n: 2 });
        }
        expect(await c.get('d1')).toEqual({ id: 'd1', tag: 't', at, inner: { list: [{ n: 1 }], when: at } });
      });

      it('rejects a second insert of the same id with DuplicateKeyError and keeps the first', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 5 });
        await expectDuplicate(c.insert({ id: 'a1', balance: 6 }), 'accounts', ['id']);
        expect(await c.get('a1')).toEqual({ id: 'a1', balance: 5 });
        expect(await c.count({})).toBe(1);
      });

      it('put creates a document, then replaces it whole', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.put({ id: 'a1', balance: 1, note: 'first' });
        expect(await c.get('a1')).toEqual({ id: 'a1', balance: 1, note: 'first' });
        await c.put({ id: 'a1', balance: 2 });
        const after = (await c.get('a1'))!;
        expect(after).toEqual({ id: 'a1', balance: 2 });
        expect('note' in after).toBe(false);
        expect(await c.count({})).toBe(1);
      });

      it('round-trips Dates as Dates, nested objects, arrays and every JSON value', async () => {
        interface Rich extends Doc {
          at: Date;
          nested: { deep: { when: Date; list: (number | string | Date | null | { k: boolean })[] } };
          empty: { obj: Record<string, never>; arr: never[]; str: string };
          nums: number[];
          flag: boolean;
          nothing: null;
        }
        const c = await declare<Rich>({ name: 'rich' });
        const doc: Rich = {
          id: 'r1',
          at: new Date('2031-02-03T04:05:06.789Z'),
          nested: {
            deep: {
              when: new Date(0),
              list: [1, 'two', new Date('2000-01-01T00:00:00.000Z'), null, { k: true }],
            },
          },
          empty: { obj: {}, arr: [], str: '' },
          nums: [0, -1, 1.5, 2 ** 40, -0.25],
          flag: false,
          nothing: null,
        };
        await c.insert(doc);
        const got = (await c.get('r1'))!;
        expect(got).toEqual(doc);
        expect(got.at).toBeInstanceOf(Date);
        expect(got.nested.deep.when).toBeInstanceOf(Date);
        expect(got.nested.deep.list[2]).toBeInstanceOf(Date);
        expect(got.nothing).toBeNull();
        expect((await c.findOne({ flag: false }))?.at).toBeInstanceOf(Date);
        expect((await c.find({}))[0]?.nested.deep.when).toBeInstanceOf(Date);
      });
    });

    describe('unique indexes', () => {
      it('rejects a taken value of a single-field unique index, on insert, put and update', async () => {
        const c = await declare<User>(USERS);
        await c.insert({ id: 'u1', email: 'a@x', tenant: 't1', slug: 'a' });
        await c.insert({ id: 'u2', email: 'b@x', tenant: 't1', slug: 'b' });
        await expectDuplicate(c.insert({ id: 'u3', email: 'a@x', tenant: 't2', slug: 'z' }), 'users', [
          'email',
        ]);
        await expectDuplicate(c.put({ id: 'u2', email: 'a@x', tenant: 't1', slug: 'b' }), 'users', ['email']);
        await expectDuplicate(c.update({ id: 'u2' }, { set: { email: 'a@x' } }), 'users', ['email']);
        expect((await c.get('u2'))?.email).toBe('b@x');
        expect(await c.count({})).toBe(2);
        // Its own value is not a conflict, and a freed value can be taken again.
        await c.put({ id: 'u1', email: 'a@x', tenant: 't1', slug: 'a' });
        await c.update({ id: 'u1' }, { set: { email: 'a@x' } });
        await c.delete({ id: 'u1' });
        await c.insert({ id: 'u3', email: 'a@x', tenant: 't2', slug: 'z' });
        expect((await c.findOne({ email: 'a@x' }))?.id).toBe('u3');
      });

      it('rejects a taken combination of a compound unique index, not its parts', async () => {
        const c = await declare<User>(USERS);
        await c.insert({ id: 'u1', email: 'a@x', tenant: 't1', slug: 'same' });
        await c.insert({ id: 'u2', email: 'b@x', tenant: 't2', slug: 'same' });
        await c.insert({ id: 'u3', email: 'c@x', tenant: 't1', slug: 'other' });
        await expectDuplicate(c.insert({ id: 'u4', email: 'd@x', tenant: 't1', slug: 'same' }), 'users', [
          'tenant',
          'slug',
        ]);
        await expectDuplicate(c.update({ id: 'u3' }, { set: { slug: 'same' } }), 'users', ['tenant', 'slug']);
        expect(await c.count({ slug: 'same' })).toBe(2);
        expect((await c.get('u3'))?.slug).toBe('other');
      });
    });

    describe('queries', () => {
      const ids = async (c: Awaited<ReturnType<typeof people>>, filter: Filter<Person>) =>
        (await c.find(filter)).map((p) => p.id).sort();

      it('matches equality on every given field; findOne answers one match or null', async () => {
        const c = await people();
        expect(await ids(c, {})).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(await ids(c, { team: 'red' })).toEqual(['p1', 'p3']);
        expect(await ids(c, { name: 'bob', age: 25 })).toEqual(['p2']);
        expect(await ids(c, { name: 'bob', age: 26 })).toEqual([]);
        expect(await ids(c, { id: 'p2' })).toEqual(['p2']);
        expect(await ids(c, { id: { $in: ['p1', 'p4', 'zz'] } })).toEqual(['p1', 'p4']);
        expect(await ids(c, { team: undefined })).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(['p1', 'p3']).toContain((await c.findOne({ team: 'red' }))?.id);
        expect(await c.findOne({ team: 'green' })).toBeNull();
        expect(await c.findOne({ id: 'p4' })).toEqual(PEOPLE[3]);
      });

      it('treats null as "null or missing", unlike $exists', async () => {
        const c = await people();
        expect(await ids(c, { nick: null })).toEqual(['p1', 'p2', 'p4']);
        expect(await ids(c, { nick: { $exists: false } })).toEqual(['p2', 'p4']);
        expect(await ids(c, { nick: { $exists: true } })).toEqual(['p1', 'p3']);
        expect(await ids(c, { nick: { $ne: null } })).toEqual(['p3']);
        expect(await ids(c, { team: null })).toEqual(['p4']);
        expect(await ids(c, { team: { $in: [null, 'blue'] } })).toEqual(['p2', 'p4']);
        expect(await ids(c, { nick: { $lt: 'z' } })).toEqual(['p3']);
      });

      it('supports $in, $nin and $ne', async () => {
        const c = await people();
        expect(await ids(c, { team: { $in: ['red', 'green'] } })).toEqual(['p1', 'p3']);
        expect(await ids(c, { team: { $in: [] } })).toEqual([]);
        expect(await ids(c, { team: { $nin: ['red'] } })).toEqual(['p2', 'p4']);
        expect(await ids(c, { team: { $ne: 'red' } })).toEqual(['p2', 'p4']);
        expect(await ids(c, { age: { $nin: [25, 41] }, team: { $ne: 'blue' } })).toEqual(['p1', 'p3']);
      });

      it('compares numbers, strings and Dates with $lt, $lte, $gt, $gte, never across types', async () => {
        const c = await people();
        expect(await ids(c, { age: { $lt: 30 } })).toEqual(['p2']);
        expect(await ids(c, { age: { $lte: 30 } })).toEqual(['p1', 'p2']);
        expect(await ids(c, { age: { $gt: 35 } })).toEqual(['p4']);
        expect(await ids(c, { age: { $gte: 35 } })).toEqual(['p3', 'p4']);
        expect(await ids(c, { age: { $gt: 25, $lt: 41 } })).toEqual(['p1', 'p3']);
        expect(await ids(c, { name: { $gte: 'bob', $lt: 'dee' } })).toEqual(['p2', 'p3']);
        expect(await ids(c, { born: { $lt: new Date('1990-01-01T00:00:00.000Z') } })).toEqual(['p3', 'p4']);
        expect(await ids(c, { born: { $gte: new Date('1990-01-01T00:00:00.000Z') } })).toEqual(['p1', 'p2']);
        expect(await ids(c, { born: new Date('1995-06-01T12:30:00.000Z') })).toEqual(['p2']);
        expect(await ids(c, { age: { $gt: '20' as unknown as number } })).toEqual([]);
      });

      it('follows dotted paths into sub-objects', async () => {
        const c = await people();
        expect(await ids(c, { 'profile.city': 'Oslo' })).toEqual(['p1', 'p3']);
        expect(await ids(c, { 'profile.city': { $in: ['Rome', 'Lima'] } })).toEqual(['p2', 'p4']);
        expect(await ids(c, { 'profile.langs': 'en' })).toEqual(['p1']);
        expect(await ids(c, { 'profile.langs': { $exists: true } })).toEqual(['p1']);
        expect(await ids(c, { 'profile.zip': null })).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(await ids(c, { 'profile.city': 'Oslo', age: { $gt: 30 } })).toEqual(['p3']);
      });

      it('matches an array field by any element, and whole arrays and sub-objects exactly', async () => {
        const c = await people();
        expect(await ids(c, { tags: 'b' } as unknown as Filter<Person>)).toEqual(['p1', 'p2']);
        expect(await ids(c, { tags: { $in: ['a', 'zz'] } } as unknown as Filter<Person>)).toEqual(['p1']);
        expect(await ids(c, { tags: { $ne: 'a' } } as unknown as Filter<Person>)).toEqual(['p2', 'p3', 'p4']);
        expect(await ids(c, { tags: ['a', 'b'] })).toEqual(['p1']);
        expect(await ids(c, { tags: [] })).toEqual(['p3']);
        expect(await ids(c, { profile: { city: 'Rome' } })).toEqual(['p2']);
      });

      it('sorts ascending and descending, and limits', async () => {
        const c = await people();
        const sorted = async (options: Parameters<typeof c.find>[1]) =>
          (await c.find({}, options)).map((p) => p.id);
        expect(await sorted({ sort: { field: 'age', order: 'asc' } })).toEqual(['p2', 'p1', 'p3', 'p4']);
        expect(await sorted({ sort: { field: 'age', order: 'desc' } })).toEqual(['p4', 'p3', 'p1', 'p2']);
        expect(await sorted({ sort: { field: 'age', order: 'desc' }, limit: 2 })).toEqual(['p4', 'p3']);
        expect(await sorted({ sort: { field: 'born', order: 'asc' } })).toEqual(['p4', 'p3', 'p1', 'p2']);
        expect(await sorted({ sort: { field: 'name', order: 'desc' } })).toEqual(['p4', 'p3', 'p2', 'p1']);
        expect(await sorted({ sort: { field: 'id', order: 'desc' }, limit: 3 })).toEqual(['p4', 'p3', 'p2']);
        expect(await c.find({}, { limit: 3 })).toHaveLength(3);
        expect(
          (await c.find({ team: 'red' }, { sort: { field: 'age', order: 'desc' }, limit: 1 })).map(
            (p) => p.id,
          ),
        ).toEqual(['p3']);
      });

      it('counts matches', async () => {
        const c = await people();
        expect(await c.count({})).toBe(4);
        expect(await c.count({ team: 'red' })).toBe(2);
        expect(await c.count({ age: { $gte: 30 }, 'profile.city': 'Oslo' })).toBe(2);
        expect(await c.count({ team: 'green' })).toBe(0);
      });
    });

    describe('update', () => {
      it('applies set, unset and inc atomically and answers the document after the change', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 10, note: 'hi', owner: 'ann' });
        const after = await c.update(
          { id: 'a1' },
          { set: { owner: 'bob' }, unset: ['note'], inc: { balance: -3 } },
        );
        expect(after).toEqual({ id: 'a1', balance: 7, owner: 'bob' });
        expect(after && 'note' in after).toBe(false);
        expect(await c.get('a1')).toEqual(after);
      });

      it('inc starts a missing field from zero; set ignores undefined values', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 1, owner: 'ann' });
        expect(await c.update({ id: 'a1' }, { inc: { version: 2 } })).toEqual({
          id: 'a1',
          balance: 1,
          owner: 'ann',
          version: 2,
        });
        expect(await c.update({ id: 'a1' }, { set: { owner: undefined, note: 'n' } })).toEqual({
          id: 'a1',
          balance: 1,
          owner: 'ann',
          version: 2,
          note: 'n',
        });
      });

      it('answers null and changes nothing when the precondition fails', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 1, version: 1 });
        expect(await c.update({ id: 'nope' }, { set: { balance: 5 } })).toBeNull();
        expect(await c.update({ id: 'a1', version: 2 }, { set: { balance: 5 } })).toBeNull();
        expect(await c.get('a1')).toEqual({ id: 'a1', balance: 1, version: 1 });
        expect(await c.update({ id: 'a1', version: 1 }, { set: { balance: 5, version: 2 } })).toEqual({
          id: 'a1',
          balance: 5,
          version: 2,
        });
        expect(await c.update({ id: 'a1', version: 1 }, { set: { balance: 6, version: 2 } })).toBeNull();
        expect(await c.count({})).toBe(1);
      });

      it('changes only the first matching document', async () => {
        const c = await people();
        const changed = await c.update({ team: 'red' }, { set: { nick: 'changed' } });
        expect(['p1', 'p3']).toContain(changed?.id);
        expect(await c.count({ nick: 'changed' })).toBe(1);
      });

      it('never lets concurrent guarded decrements go below zero', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 10 });
        const results = await Promise.all(
          Array.from({ length: 20 }, () =>
            c.update({ id: 'a1', balance: { $gte: 1 } }, { inc: { balance: -1 } }),
          ),
        );
        const won = results.filter((r) => r !== null);
        expect(won).toHaveLength(10);
        expect(won.map((r) => r!.balance).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect((await c.get('a1'))?.balance).toBe(0);
      });

      it('lets exactly one of concurrent compare-and-set updates win', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 0, version: 1 });
        const results = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            c.update({ id: 'a1', version: 1 }, { set: { version: 2, owner: `w${i}` } }),
          ),
        );
        const won = results.filter((r) => r !== null);
        expect(won).toHaveLength(1);
        expect(await c.get('a1')).toEqual(won[0]);
      });
    });

    describe('delete', () => {
      it('deletes every match and answers how many', async () => {
        const c = await people();
        expect(await c.delete({ team: 'green' })).toBe(0);
        expect(await c.delete({ team: 'red' })).toBe(2);
        expect((await c.find({})).map((p) => p.id).sort()).toEqual(['p2', 'p4']);
        expect(await c.get('p1')).toBeNull();
        expect(await c.delete({ id: 'p2' })).toBe(1);
        expect(await c.delete({})).toBe(1);
        expect(await c.count({})).toBe(0);
        await c.insert(PEOPLE[0]!); // a deleted id is free again
        expect(await c.count({})).toBe(1);
      });
    });

    describe('expiry', () => {
      async function sessions() {
        const c = await declare<Session>(SESSIONS);
        const now = clock.now().getTime();
        await c.insert({ id: 's1', user: 'u1', expiresAt: new Date(now + 60_000) });
        await c.insert({ id: 's2', user: 'u1', expiresAt: new Date(now + 120_000) });
        await c.insert({ id: 's3', user: 'u1' });
        await c.insert({ id: 's4', user: 'u2', expiresAt: null });
        return c;
      }

      it('hides a document from every read once its date is <= now', async () => {
        const start = clock.now();
        const c = await sessions();
        expect(await c.count({})).toBe(4);
        clock.advance(59_999);
        expect(await c.get('s1')).not.toBeNull();
        clock.advance(1); // exactly at expiresAt: gone
        expect(await c.get('s1')).toBeNull();
        expect(await c.findOne({ id: 's1' })).toBeNull();
        expect(
          await c.findOne({ user: 'u1', expiresAt: { $lt: new Date(start.getTime() + 90_000) } }),
        ).toBeNull();
        expect((await c.find({})).map((s) => s.id).sort()).toEqual(['s2', 's3', 's4']);
        expect(
          (await c.find({ user: 'u1' }, { sort: { field: 'id', order: 'asc' } })).map((s) => s.id),
        ).toEqual(['s2', 's3']);
        expect(await c.count({})).toBe(3);
        expect(await c.count({ user: 'u1' })).toBe(2);
        expect(await c.update({ id: 's1' }, { set: { user: 'x' } })).toBeNull();
        expect(await c.delete({ id: 's1' })).toBe(0);
        clock.advance(60_000);
        expect((await c.find({})).map((s) => s.id).sort()).toEqual(['s3', 's4']);
        // put gives the id a new life
        await c.put({ id: 's1', user: 'u3', expiresAt: new Date(clock.now().getTime() + 1000) });
        expect(await c.get('s1')).toEqual({
          id: 's1',
          user: 'u3',
          expiresAt: new Date(clock.now().getTime() + 1000),
        });
      });

      it('sweepExpired removes expired documents for good', async () => {
        const start = clock.now();
        const c = await sessions();
        expect(await storage.sweepExpired()).toBe(0);
        clock.advance(60_000);
        expect(await storage.sweepExpired()).toBe(1);
        clock.set(start); // had it only been hidden, it would be back now
        expect(await c.get('s1')).toBeNull();
        expect((await c.find({})).map((s) => s.id).sort()).toEqual(['s2', 's3', 's4']);
      });

      it('removes expired documents in the background (TTL index or periodic sweep)', async () => {
        const warnings: string[] = [];
        const bgClock = fakeClock();
        const bg = await open(bgClock, { sweepIntervalMs: 40, onWarning: (m) => warnings.push(m) });
        try {
          const c = bg.storage.collection<Session>(SESSIONS);
          await bg.storage.ensureIndexes();
          const start = bgClock.now();
          await c.insert({ id: 's1', user: 'u1', expiresAt: new Date(start.getTime() + 1000) });
          await c.insert({ id: 's2', user: 'u1', expiresAt: new Date(start.getTime() + 10_000) });
          const sweeps = bg.storage.kind === 'embedded' || warnings.length > 0;
          if (!sweeps) return; // a real TTL index: the server removes them at its own pace
          for (const w of warnings) expect(w).toMatch(/sessions: the server has no TTL indexes/);
          const later = new Date(start.getTime() + 5000);
          bgClock.set(later);
          const until = Date.now() + 5000;
          let left = 2;
          while (left > 1 && Date.now() < until) {
            await sleep(50);
            bgClock.set(start);
            left = await c.count({});
            bgClock.set(later);
          }
          expect(left).toBe(1);
          bgClock.set(start);
          expect(await c.get('s1')).toBeNull();
          expect(await c.get('s2')).not.toBeNull();
        } finally {
          await bg.cleanup();
        }
      });
    });

    describe('lifecycle', () => {
      it('is ready once open: ping answers and writes go through', async () => {
        await expect(storage.ping()).resolves.toBeUndefined();
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 1 });
        expect(await c.get('a1')).not.toBeNull();
      });

      it('after close, ping and writes fail; closing twice is harmless', async () => {
        const c = await declare<Account>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 1 });
        await storage.close();
        await expect(storage.ping()).rejects.toThrow();
        await expect(c.insert({ id: 'a2', balance: 1 })).rejects.toThrow();
        await expect(c.put({ id: 'a1', balance: 2 })).rejects.toThrow();
        await expect(storage.close()).resolves.toBeUndefined();
      });
    });
  });
}
