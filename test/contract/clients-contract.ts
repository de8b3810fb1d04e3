/**
 * OAuth clients on the storage port (src/clients): validation, shown-once secrets stored as
 * digests, constant-time secret checks, workspace isolation, updates and deletes — run
 * identically against each store (clients.test.ts).
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLIENTS, ClientService, secretMatches } from '../../src/clients/service.ts';
import type { Storage } from '../../src/storage/port.ts';
import { WorkspaceService } from '../../src/workspaces/service.ts';
import { rejection } from '../helpers/rejection.ts';
import { type FakeClock, fakeClock } from '../helpers/stores.ts';

export type OpenClientsStore = (clock: FakeClock) => Promise<{ storage: Storage; cleanup(): Promise<void> }>;

const WEB = { name: 'Web app', redirectUris: ['https://app.example.com/callback'] };

export function clientsContract(name: string, open: OpenClientsStore): void {
  describe(`OAuth clients on the ${name} store`, () => {
    let clock: FakeClock;
    let storage: Storage;
    let cleanup: () => Promise<void>;
    let clients: ClientService;
    let wsA: string;
    let wsB: string;

    beforeEach(async () => {
      clock = fakeClock();
      ({ storage, cleanup } = await open(clock));
      const workspaces = new WorkspaceService(storage, clock);
      clients = new ClientService(storage, clock, workspaces);
      await storage.ensureIndexes();
      wsA = (await workspaces.create({ name: 'Acme' }, 'usr_owner')).id;
      wsB = (await workspaces.create({ name: 'Other' }, 'usr_owner')).id;
    });

    afterEach(async () => {
      await cleanup();
    });

    it('creates a confidential client: the secret once, a SHA-256 digest in storage', async () => {
      const { client, secret } = await clients.create(wsA, WEB);
      expect(client).toMatchObject({
        workspaceId: wsA,
        name: 'Web app',
        type: 'confidential',
        grantTypes: ['authorization_code', 'refresh_token'],
        authMethod: 'client_secret_basic',
        redirectUris: ['https://app.example.com/callback'],
      });
      expect(client.id).toMatch(/^cli_[0-9A-Za-z]{20}$/);
      expect(secret).toMatch(/^gcs_[A-Za-z0-9_-]{43}$/);
      expect(client.secretHint).toBe(secret!.slice(-4));
      const raw = await storage.collection<{ id: string }>(CLIENTS).get(client.id);
      expect(JSON.stringify(raw)).not.toContain(secret!);
      expect(raw).toMatchObject({ secretDigest: createHash('sha256').update(secret!).digest('hex') });
      expect(JSON.stringify(await clients.get(wsA, client.id))).not.toContain(secret!);
      expect(JSON.stringify(await clients.list(wsA))).not.toContain('secretDigest');
    });

    it('creates a public client without a secret (auth method none)', async () => {
      const { client, secret } = await clients.create(wsA, { ...WEB, public: true });
      expect(secret).toBeNull();
      expect(client).toMatchObject({ type: 'public', authMethod: null, secretHint: null });
    });

    it('checks secrets in constant time against the digest, and nothing else', async () => {
      const { client, secret } = await clients.create(wsA, WEB);
      const record = await clients.find(client.id);
      expect(secretMatches(secret, record!.secretDigest)).toBe(true);
      expect(secretMatches(`${secret}x`, record!.secretDigest)).toBe(false);
      expect(secretMatches(secret!.slice(0, -1), record!.secretDigest)).toBe(false);
      expect(secretMatches('', record!.secretDigest)).toBe(false);
      expect(secretMatches(record!.secretDigest, record!.secretDigest)).toBe(false);
      expect(secretMatches(secret, null)).toBe(false);
      expect(secretMatches(undefined, record!.secretDigest)).toBe(false);
    });

    it('refuses redirect URIs that are not https (http only on loopback), or carry a fragment', async () => {
      for (const uri of [
        'http://app.example.com/cb',
        'https://app.example.com/cb#frag',
        'ftp://app.example.com/cb',
        'javascript:alert(1)',
        'not a url',
        'https://user:pw@app.example.com/cb',
      ]) {
        const e = await rejection(clients.create(wsA, { name: 'x', redirectUris: [uri] }));
        expect(e.status, uri).toBe(400);
        expect(e.code).toBe('invalid_request');
        expect(e.message).toMatch(/^redirectUris/);
      }
      for (const uri of ['http://127.0.0.1:8080/cb', 'http://localhost/cb', 'http://[::1]:3000/cb']) {
        await expect(
          clients.create(wsA, { name: 'native', public: true, redirectUris: [uri] }),
        ).resolves.toBeTruthy();
      }
    });

    it('refuses shapes that do not hold together', async () => {
      const cases: [Parameters<ClientService['create']>[1], RegExp][] = [
        [{ name: 'x' }, /redirect_uris/],
        [
          { name: 'x', public: true, grantTypes: ['client_credentials'] },
          /public client cannot use client_credentials/,
        ],
        [{ ...WEB, grantTypes: ['refresh_token'] }, /refresh_token needs authorization_code/],
        [{ ...WEB, public: true, authMethod: 'client_secret_post' }, /token_endpoint_auth_method/],
        [{ ...WEB, grantTypes: [] }, /grantTypes/],
        [{ ...WEB, name: '' }, /name/],
        [{ ...WEB, bogus: true } as never, /body|bogus|Unrecognized/i],
      ];
      for (const [input, message] of cases) {
        const e = await rejection(clients.create(wsA, input));
        expect(e.status, JSON.stringify(input)).toBe(400);
        expect(e.message).toMatch(message);
      }
      expect(await clients.list(wsA)).toEqual([]);
    });

    it('registers a machine client without redirect URIs', async () => {
      const { client, secret } = await clients.create(wsA, {
        name: 'cron',
        grantTypes: ['client_credentials'],
      });
      expect(client.redirectUris).toEqual([]);
      expect(secret).toBeTruthy();
    });

    it('keeps workspaces apart: another workspace sees "not found"', async () => {
      const { client } = await clients.create(wsA, WEB);
      expect((await rejection(clients.get(wsB, client.id))).status).toBe(404);
      expect((await rejection(clients.update(wsB, client.id, { name: 'stolen' }))).status).toBe(404);
      expect((await rejection(clients.rotateSecret(wsB, client.id))).status).toBe(404);
      expect((await rejection(clients.delete(wsB, client.id))).status).toBe(404);
      expect(await clients.list(wsB)).toEqual([]);
      expect((await clients.get(wsA, client.id)).name).toBe('Web app');
      expect((await rejection(clients.create('ws_nope', WEB))).status).toBe(404);
      expect((await rejection(clients.get(wsA, 'cli_unknown'))).status).toBe(404);
    });

    it('updates fields, re-checking the whole shape', async () => {
      const { client } = await clients.create(wsA, WEB);
      clock.advance(1000);
      const updated = await clients.update(wsA, client.id, {
        name: 'Renamed',
        redirectUris: ['https://app.example.com/cb2', 'http://127.0.0.1/cb'],
        dpopBound: true,
      });
      expect(updated).toMatchObject({ name: 'Renamed', dpopBound: true });
      expect(updated.redirectUris).toHaveLength(2);
      expect(updated.updatedAt.getTime()).toBeGreaterThan(client.updatedAt.getTime());
      expect((await rejection(clients.update(wsA, client.id, { redirectUris: [] }))).message).toMatch(
        /redirect_uris/,
      );
      expect(
        (await rejection(clients.update(wsA, client.id, { redirectUris: ['http://evil.example/cb'] })))
          .status,
      ).toBe(400);
      expect((await clients.get(wsA, client.id)).redirectUris).toHaveLength(2);
    });

    it('rotates a secret: the new one matches, the old one does not; public clients have none', async () => {
      const { client, secret } = await clients.create(wsA, WEB);
      clock.advance(1000);
      const rotated = await clients.rotateSecret(wsA, client.id);
      expect(rotated.secret).not.toBe(secret);
      const record = await clients.find(client.id);
      expect(secretMatches(rotated.secret, record!.secretDigest)).toBe(true);
      expect(secretMatches(secret, record!.secretDigest)).toBe(false);
      expect(rotated.client.secretRotatedAt).toEqual(clock.now());
      const pub = await clients.create(wsA, { ...WEB, public: true });
      expect((await rejection(clients.rotateSecret(wsA, pub.client.id))).code).toBe('public_client');
    });

    it('deletes a client and tells the provider side', async () => {
      const { client } = await clients.create(wsA, WEB);
      const told: string[] = [];
      clients.onDeleted = async (id) => {
        told.push(id);
      };
      await clients.delete(wsA, client.id);
      expect(told).toEqual([client.id]);
      expect(await clients.find(client.id)).toBeNull();
      expect((await rejection(clients.delete(wsA, client.id))).status).toBe(404);
    });

    it('finds by client id alone only well-formed ids', async () => {
      const { client } = await clients.create(wsA, WEB);
      expect((await clients.find(client.id))?.workspaceId).toBe(wsA);
      expect(await clients.find('gatehouse')).toBeNull();
      expect(await clients.find('key_0123456789abcdef')).toBeNull();
      expect(await clients.find(`${client.id}x`)).toBeNull();
    });

    it('gives a resource indicator to one workspace, and refuses the reserved ones', async () => {
      const guarded = new ClientService(storage, clock, new WorkspaceService(storage, clock), [
        'https://gatehouse.example/api',
      ]);
      const RES = 'https://videos.example.com';
      const svc = { name: 'svc', grantTypes: ['client_credentials' as const] };
      await guarded.create(wsA, { ...svc, resources: [RES, 'https://other.example.com'] });
      await guarded.create(wsA, { ...svc, resources: [RES] }); // the same workspace may reuse it
      const taken = await rejection(guarded.create(wsB, { ...svc, resources: [RES] }));
      expect(taken).toMatchObject({ status: 409, code: 'resource_taken' });
      expect(taken.message).toContain(RES);
      const { client } = await guarded.create(wsB, svc);
      expect(await rejection(guarded.update(wsB, client.id, { resources: [RES] }))).toMatchObject({
        status: 409,
      });
      expect((await guarded.get(wsB, client.id)).resources).toEqual([]);
      for (const reserved of [
        'https://gatehouse.example/api',
        'https://gatehouse.example/api/',
        'https://GATEHOUSE.example/api/v1',
      ]) {
        const r = await rejection(guarded.create(wsB, { ...svc, resources: [reserved] }));
        expect(r).toMatchObject({ status: 400, code: 'invalid_request' });
        expect(r.message).toMatch(/Gatehouse's own API/);
      }
      // Elsewhere on the same host is fine.
      await guarded.create(wsB, { ...svc, resources: ['https://gatehouse.example/apis'] });
    });
  });
}
