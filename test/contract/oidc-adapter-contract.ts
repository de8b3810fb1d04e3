/**
 * The domain repositories built on the storage port, run against each store: the oidc-provider
 * adapter and the signing keys.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdapterClass } from '../../src/oidc/adapter.ts';
import { SIGNING_ALGS, SigningKeyStore } from '../../src/oidc/signing-keys.ts';
import type { Storage } from '../../src/storage/port.ts';
import { type FakeClock, fakeClock } from '../helpers/stores.ts';

export type OpenAnyStore = (clock: FakeClock) => Promise<{ storage: Storage; cleanup(): Promise<void> }>;

export function oidcAdapterContract(name: string, open: OpenAnyStore): void {
  describe(`oidc-provider adapter on ${name}`, () => {
    let clock: FakeClock;
    let store: Awaited<ReturnType<OpenAnyStore>>;
    let adapter: (model: string) => Adapter;

    beforeEach(async () => {
      clock = fakeClock();
      store = await open(clock);
      const StorageAdapter = createAdapterClass(store.storage, clock);
      await store.storage.ensureIndexes();
      adapter = (model) => new StorageAdapter(model);
    });

    afterEach(async () => {
      await store.cleanup();
    });

    it('upserts and finds a payload by id, per model', async () => {
      const codes = adapter('AuthorizationCode');
      const payload: AdapterPayload = {
        jti: 'c1',
        kind: 'AuthorizationCode',
        accountId: 'acc1',
        scope: 'openid',
      };
      await codes.upsert('c1', payload, 60);
      expect(await codes.find('c1')).toEqual(payload);
      expect(await codes.find('c2')).toBeUndefined();
      expect(await adapter('AccessToken').find('c1')).toBeUndefined();
      await codes.upsert('c1', { ...payload, scope: 'openid email' }, 60);
      expect((await codes.find('c1'))?.scope).toBe('openid email');
    });

    it('finds a session by uid and a device code by user code, within their model', async () => {
      const sessions = adapter('Session');
      await sessions.upsert('sess1', { jti: 'sess1', uid: 'uid-1', kind: 'Session' }, 3600);
      await sessions.upsert('sess2', { jti: 'sess2', uid: 'uid-2', kind: 'Session' }, 3600);
      expect((await sessions.findByUid!('uid-2'))?.jti).toBe('sess2');
      expect(await sessions.findByUid!('uid-3')).toBeUndefined();
      expect(await adapter('Interaction').findByUid!('uid-1')).toBeUndefined();

      const devices = adapter('DeviceCode');
      await devices.upsert('dc1', { jti: 'dc1', userCode: 'ABCD-EFGH', kind: 'DeviceCode' }, 600);
      expect((await devices.findByUserCode!('ABCD-EFGH'))?.jti).toBe('dc1');
      expect(await devices.findByUserCode!('XXXX-XXXX')).toBeUndefined();
    });

    it('consume marks the payload consumed at the current time', async () => {
      const codes = adapter('AuthorizationCode');
      await codes.upsert('c1', { jti: 'c1', grantId: 'g1' }, 60);
      expect((await codes.find('c1'))?.consumed).toBeUndefined();
      clock.advance(5000);
      await codes.consume!('c1');
      expect((await codes.find('c1'))?.consumed).toBe(Math.floor(clock.now().getTime() / 1000));
      await codes.consume!('unknown'); // no error
    });

    it('destroy removes one payload', async () => {
      const tokens = adapter('AccessToken');
      await tokens.upsert('t1', { jti: 't1' }, 60);
      await tokens.upsert('t2', { jti: 't2' }, 60);
      await tokens.destroy('t1');
      expect(await tokens.find('t1')).toBeUndefined();
      expect(await tokens.find('t2')).toBeDefined();
    });

    it("revokeByGrantId removes that grant's tokens and nothing else", async () => {
      await adapter('AccessToken').upsert('at1', { jti: 'at1', grantId: 'g1' }, 60);
      await adapter('RefreshToken').upsert('rt1', { jti: 'rt1', grantId: 'g1' }, 600);
      await adapter('AuthorizationCode').upsert('ac1', { jti: 'ac1', grantId: 'g1' }, 60);
      await adapter('AccessToken').upsert('at2', { jti: 'at2', grantId: 'g2' }, 60);
      await adapter('Grant').upsert('g1', { jti: 'g1', grantId: 'g1' } as AdapterPayload, 600);
      await adapter('AccessToken').revokeByGrantId!('g1');
      expect(await adapter('AccessToken').find('at1')).toBeUndefined();
      expect(await adapter('RefreshToken').find('rt1')).toBeUndefined();
      expect(await adapter('AuthorizationCode').find('ac1')).toBeUndefined();
      expect(await adapter('AccessToken').find('at2')).toBeDefined();
      expect(await adapter('Grant').find('g1')).toBeDefined();
    });

    it('honours expiry on read through the clock', async () => {
      const sessions = adapter('Session');
      await sessions.upsert('s1', { jti: 's1', uid: 'u1' }, 60);
      await sessions.upsert('s2', { jti: 's2', uid: 'u2' }); // no expiry
      clock.advance(59_000);
      expect(await sessions.find('s1')).toBeDefined();
      clock.advance(1000);
      expect(await sessions.find('s1')).toBeUndefined();
      expect(await sessions.findByUid!('u1')).toBeUndefined();
      clock.advance(365 * 24 * 3600_000);
      expect(await sessions.find('s2')).toBeDefined();
    });
  });

  describe(`signing keys on ${name}`, () => {
    let clock: FakeClock;
    let store: Awaited<ReturnType<OpenAnyStore>>;

    beforeEach(async () => {
      clock = fakeClock();
      store = await open(clock);
    });

    afterEach(async () => {
      await store.cleanup();
    });

    const kids = (keys: { kid: string }[]) => keys.map((k) => k.kid).sort();

    it('generates one key per alg once and serves the same kids afterwards', async () => {
      const first = await new SigningKeyStore(store.storage, clock).load();
      expect(first.map((k) => k.alg).sort()).toEqual([...SIGNING_ALGS].sort());
      expect(first.every((k) => k.createdAt instanceof Date)).toBe(true);
      const again = await new SigningKeyStore(store.storage, clock).load();
      expect(kids(again)).toEqual(kids(first));
      expect(again.map((k) => k.jwk)).toEqual(first.map((k) => k.jwk));
    });

    it('agrees on the keys when two loads race on a fresh store', async () => {
      const [a, b] = await Promise.all([
        new SigningKeyStore(store.storage, clock).load(),
        new SigningKeyStore(store.storage, clock).load(),
      ]);
      expect(kids(a)).toEqual(kids(b));
      expect(kids(await new SigningKeyStore(store.storage, clock).load())).toEqual(kids(a));
    });

    it('rotation signs with new keys and keeps the old ones published until removeAfter', async () => {
      const keys = new SigningKeyStore(store.storage, clock);
      const old = await keys.load();
      clock.advance(1000);
      const rotated = await keys.rotate(3600);
      const fresh = rotated.filter((k) => !k.retiredAt);
      expect(fresh.map((k) => k.alg).sort()).toEqual([...SIGNING_ALGS].sort());
      for (const k of old) expect(kids(fresh)).not.toContain(k.kid);
      // Signing keys (unretired) come first; the old ones stay, retired.
      expect(kids(rotated.slice(0, fresh.length))).toEqual(kids(fresh));
      expect(kids(rotated)).toEqual([...kids(fresh), ...kids(old)].sort());
      for (const k of rotated.filter((k) => k.retiredAt)) {
        expect(k.removeAfter).toEqual(new Date(clock.now().getTime() + 3600_000));
      }
      expect(kids(await new SigningKeyStore(store.storage, clock).load())).toEqual(kids(rotated));

      clock.advance(3600_000 - 1);
      expect(kids(await keys.load())).toEqual(kids(rotated));
      clock.advance(1);
      expect(kids(await keys.load())).toEqual(kids(fresh));
    });

    it('keeps cookie secrets across loads', async () => {
      const a = await new SigningKeyStore(store.storage, clock).cookieSecrets();
      const b = await new SigningKeyStore(store.storage, clock).cookieSecrets();
      expect(a).toHaveLength(1);
      expect(b).toEqual(a);
    });
  });
}
