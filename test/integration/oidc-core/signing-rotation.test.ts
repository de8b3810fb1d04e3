import { spawn } from 'node:child_process';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIN_SIGNING_KEY_RETENTION } from '../../../src/oidc/resources.ts';
import { SigningKeyStore } from '../../../src/oidc/signing-keys.ts';
import { mongoUriWithDb, startGatehouse, type TestServer } from '../../helpers/server.ts';
import { type FakeClock, fakeClock } from '../../helpers/stores.ts';
import { addUser, bearer, form, stores, tenant } from './fixtures.ts';

/**
 * Signing-key rotation reaches running processes: new tokens are signed with the new key at
 * once (admin API) or within one poll (another process, e.g. the CLI); the old public key stays
 * in the JWKS, and its tokens keep verifying, until its retention has passed; then it is gone.
 */
const jwks = async (gh: TestServer) =>
  (await (await fetch(new URL('/jwks', gh.issuer))).json()) as JSONWebKeySet & { keys: { kid: string }[] };
const kids = async (gh: TestServer) => (await jwks(gh)).keys.map((k) => k.kid).sort();
const until = async (what: () => Promise<boolean>, ms = 5000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
};

describe.each(stores)('signing-key rotation on the %s store', (_name, store) => {
  let gh: TestServer;
  let clock: FakeClock;
  let ownerToken: string;
  let workspaceId: string;
  let ownerId: string;

  beforeAll(async () => {
    clock = fakeClock(new Date());
    gh = await startGatehouse(store(), { SIGNING_KEYS_POLL_MS: '100' }, { clock });
    const owner = await gh.container.accounts.createUser({
      email: 'root@gatehouse.test',
      password: 'correct horse battery',
    });
    const ws = await gh.container.workspaces.create({ name: 'Default', slug: 'default' }, owner.id);
    workspaceId = ws.id;
    ownerId = owner.id;
    ownerToken = await bearer(gh.container, owner.id, ws.id);
  });
  afterAll(async () => {
    await gh?.close();
  });
  // oidc-provider stamps iat/exp from the real clock: keep the injected one near it between tests.
  afterEach(() => {
    clock.set(new Date());
  });

  const rotate = (token: string, body: unknown = {}) =>
    fetch(new URL('/api/v1/admin/signing-keys/rotate', gh.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('rotates through the admin API: new tokens use the new key, old ones keep verifying', async () => {
    const before = await kids(gh);
    const old = await gh.container.tokens.issueForUser({ userId: ownerId, workspaceId });
    const oldKid = decodeProtectedHeader(old.access_token).kid!;
    expect(before).toContain(oldKid);
    const oldJwks = await jwks(gh);

    const res = await rotate(ownerToken);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      keys: { kid: string; alg: string; status: string; remove_after: string | null }[];
    };
    const signing = body.keys.filter((k) => k.status === 'signing');
    expect(signing.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(signing.some((k) => before.includes(k.kid))).toBe(false);
    for (const k of body.keys.filter((k) => k.status === 'retired')) {
      expect(new Date(k.remove_after!).getTime() - clock.now().getTime()).toBe(
        MIN_SIGNING_KEY_RETENTION * 1000,
      );
    }

    const after = await kids(gh);
    for (const kid of before) expect(after).toContain(kid);
    expect(after.length).toBe(before.length + 2);
    const fresh = await gh.container.tokens.issueForUser({ userId: ownerId, workspaceId });
    const freshKid = decodeProtectedHeader(fresh.access_token).kid!;
    expect(freshKid).not.toBe(oldKid);
    expect(signing.map((k) => k.kid)).toContain(freshKid);
    // Both verify with the JWKS now published; the fresh one would not with the JWKS of before.
    const now = createLocalJWKSet(await jwks(gh));
    await jwtVerify(old.access_token, now, { currentDate: clock.now() });
    await jwtVerify(fresh.access_token, now, { currentDate: clock.now() });
    await expect(
      jwtVerify(fresh.access_token, createLocalJWKSet(oldJwks), { currentDate: clock.now() }),
    ).rejects.toThrow();
    await expect(gh.container.tokens.verifyAccessToken(old.access_token)).resolves.toBeTruthy();
    // The provider's own flows sign with the new key too.
    const svc = await gh.container.clients.create(workspaceId, {
      name: 'svc',
      grantTypes: ['client_credentials'],
    });
    const cc = await form(
      `${gh.issuer}/token`,
      { grant_type: 'client_credentials' },
      { id: svc.client.id, secret: svc.secret! },
    );
    expect(decodeProtectedHeader(String(cc.json.access_token)).kid).toBe(freshKid);
  });

  it('drops a retired key once its retention has passed; its tokens stop verifying', async () => {
    const t = await tenant(gh.container);
    const old = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    const oldKid = decodeProtectedHeader(old.access_token).kid!;
    await gh.container.signingKeyRing.rotate(MIN_SIGNING_KEY_RETENTION);
    expect(await kids(gh)).toContain(oldKid);
    clock.advance((MIN_SIGNING_KEY_RETENTION - 10) * 1000);
    await gh.container.signingKeyRing.refresh();
    expect(await kids(gh)).toContain(oldKid);
    clock.advance(11_000);
    await until(async () => !(await kids(gh)).includes(oldKid));
    await expect(gh.container.tokens.verifyAccessToken(old.access_token)).rejects.toMatchObject({
      code: 'invalid_token',
    });
  });

  it('picks up keys another process published, within one poll', async () => {
    const t = await tenant(gh.container);
    const before = decodeProtectedHeader(
      (await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId }))
        .access_token,
    ).kid!;
    // What `gatehouse keys rotate-signing` does from its own process: write the store, nothing else.
    const outside = await new SigningKeyStore(gh.container.storage, clock).rotate(MIN_SIGNING_KEY_RETENTION);
    const published = outside.filter((k) => !k.retiredAt).map((k) => k.kid);
    await until(async () =>
      published.every((kid) => gh.container.signingKeyRing.current().some((k) => k.kid === kid)),
    );
    const after = decodeProtectedHeader(
      (await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId }))
        .access_token,
    ).kid!;
    expect(after).not.toBe(before);
    expect(published).toContain(after);
    expect(await kids(gh)).toEqual(expect.arrayContaining([...published, before]));
  });

  it('lets only owners of the bootstrap workspace rotate', async () => {
    const admin = await addUser(gh.container, workspaceId, 'admin');
    const adminToken = await bearer(gh.container, admin.id, workspaceId);
    expect((await rotate(adminToken)).status).toBe(403);
    const stranger = await tenant(gh.container, 'stranger');
    expect((await rotate(await bearer(gh.container, stranger.owner.id, stranger.workspaceId))).status).toBe(
      404,
    );
    expect((await rotate('nope')).status).toBe(401);
    const short = await rotate(ownerToken, { retain_seconds: 60 });
    expect(short.status).toBe(400);
    expect(((await short.json()) as { message: string }).message).toMatch(/retain_seconds/);
  });
});

describe('gatehouse keys rotate-signing against a running server (shared MongoDB)', () => {
  let gh: TestServer;
  let uri: string;
  beforeAll(async () => {
    uri = mongoUriWithDb(inject('mongoUri'));
    gh = await startGatehouse({ kind: 'mongo', uri }, { SIGNING_KEYS_POLL_MS: '200' });
  });
  afterAll(async () => {
    await gh?.close();
  });

  it('the server signs with the key the CLI published', { timeout: 90_000 }, async () => {
    const before = await kids(gh);
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/gatehouse.js', 'keys', 'rotate-signing'], {
      env: {
        PATH: process.env.PATH ?? '',
        GATEHOUSE_CONFIG_DIR: '/nonexistent',
        LOG_LEVEL: 'warn',
        MONGODB_URI: uri,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const signing = /^signing with: (.*)$/m.exec(out)?.[1] ?? '';
    const es256 = /ES256 (\S+)/.exec(signing)?.[1];
    expect(es256).toBeTruthy();
    await until(async () => (await kids(gh)).includes(es256!));
    for (const kid of before) expect(await kids(gh)).toContain(kid);
    const t = await tenant(gh.container);
    const pair = await gh.container.tokens.issueForUser({ userId: t.owner.id, workspaceId: t.workspaceId });
    expect(decodeProtectedHeader(pair.access_token).kid).toBe(es256);
  });
});
