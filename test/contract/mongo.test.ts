import { describe, expect, inject, it } from 'vitest';
import { fakeClock, openMongo } from '../helpers/stores.ts';
import { oidcAdapterContract } from './oidc-adapter-contract.ts';
import { storageContract } from './storage-contract.ts';

const ferret = inject('mongoServer').startsWith('FerretDB');

storageContract('mongo', (clock, options) => openMongo(clock, options));
oidcAdapterContract('mongo', (clock) => openMongo(clock));

describe('mongo store on the test server', () => {
  it.runIf(ferret)(
    'falls back to a periodic sweep, with a warning, where TTL indexes are missing',
    async () => {
      const warnings: string[] = [];
      const { storage, cleanup } = await openMongo(fakeClock(), { onWarning: (m) => warnings.push(m) });
      try {
        storage.collection({ name: 'expiring', expiresField: 'expiresAt' });
        storage.collection({ name: 'plain', indexes: [{ fields: ['a'], unique: true }] });
        await storage.ensureIndexes();
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/^expiring: the server has no TTL indexes \(.*not implemented.*\)/);
      } finally {
        await cleanup();
      }
    },
  );

  it.runIf(ferret)(
    'keeps conditional updates atomic although FerretDB 1.x findAndModify is not',
    async () => {
      // FerretDB runs findAndModify as find-then-update (FerretDB#2168); the store serialises
      // conditional updates per document there (src/storage/mongo/locks.ts).
      const { storage, cleanup } = await openMongo(fakeClock());
      try {
        expect(storage.description).toMatch(/^FerretDB /);
        const c = storage.collection<{ id: string; balance: number }>({ name: 'accounts' });
        await c.insert({ id: 'a1', balance: 10 });
        const results = await Promise.all(
          Array.from({ length: 20 }, () =>
            c.update({ id: 'a1', balance: { $gte: 1 } }, { inc: { balance: -1 } }),
          ),
        );
        expect(results.filter((r) => r !== null)).toHaveLength(10);
        expect((await c.get('a1'))?.balance).toBe(0);
      } finally {
        await cleanup();
      }
    },
  );
});
