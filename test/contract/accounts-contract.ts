/**
 * Accounts and workspaces on the storage port: the repositories and the services' invariants
 * (case-insensitive unique emails, unique slugs, one membership per user and workspace, never a
 * workspace without an owner), run identically against each store (accounts.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/accounts/model.ts';
import { UserRepository } from '../../src/accounts/repository.ts';
import { AccountService } from '../../src/accounts/service.ts';
import { AppError } from '../../src/http/errors.ts';
import { DuplicateKeyError, type Storage } from '../../src/storage/port.ts';
import { DEFAULT_SETTINGS, type Workspace } from '../../src/workspaces/model.ts';
import { MembershipRepository, membershipId, WorkspaceRepository } from '../../src/workspaces/repository.ts';
import { WorkspaceService } from '../../src/workspaces/service.ts';
import { type FakeClock, fakeClock } from '../helpers/stores.ts';

export type OpenAccountsStore = (clock: FakeClock) => Promise<{ storage: Storage; cleanup(): Promise<void> }>;

const CHEAP = { memoryKib: 1024, iterations: 1 };

function user(id: string, email: string, at: Date): User {
  return { id, email, emailLower: email.toLowerCase(), emailVerified: false, createdAt: at, updatedAt: at };
}

function workspace(id: string, slug: string, at: Date): Workspace {
  return { id, name: slug, slug, settings: { ...DEFAULT_SETTINGS }, createdAt: at, updatedAt: at };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

export interface AccountsLimits {
  /** Why concurrent conditional updates cannot be checked on this server (see storage-contract.ts). */
  nonAtomicUpdates?: string;
}

export function accountsContract(name: string, open: OpenAccountsStore, limits: AccountsLimits = {}): void {
  const atomic = limits.nonAtomicUpdates ? it.skip : it;
  const atomicTitle = (title: string) =>
    limits.nonAtomicUpdates ? `${title} [skipped: ${limits.nonAtomicUpdates}]` : title;

  describe(`accounts and workspaces on the ${name} store`, () => {
    let clock: FakeClock;
    let storage: Storage;
    let cleanup: () => Promise<void>;
    let users: UserRepository;
    let workspaces: WorkspaceRepository;
    let memberships: MembershipRepository;
    let accounts: AccountService;
    let service: WorkspaceService;

    beforeEach(async () => {
      clock = fakeClock();
      ({ storage, cleanup } = await open(clock));
      users = new UserRepository(storage);
      workspaces = new WorkspaceRepository(storage);
      memberships = new MembershipRepository(storage);
      accounts = new AccountService(storage, clock, CHEAP);
      service = new WorkspaceService(storage, clock);
      await storage.ensureIndexes();
    });

    afterEach(async () => {
      await cleanup();
    });

    describe('user repository', () => {
      it('stores and reads users by id and by email in any case', async () => {
        const u = user('usr_1', 'Ann@Example.com', clock.now());
        await users.insert(u);
        expect(await users.get('usr_1')).toEqual(u);
        expect(await users.findByEmail('ann@example.COM')).toEqual(u);
        expect(await users.findByEmail(' ANN@example.com ')).toEqual(u);
        expect(await users.findByEmail('bob@example.com')).toBeNull();
        expect(await users.get('usr_nope')).toBeNull();
      });

      it('refuses a second user with the same email in another case', async () => {
        await users.insert(user('usr_1', 'ann@example.com', clock.now()));
        const err = await rejection(users.insert(user('usr_2', 'ANN@example.com', clock.now())));
        expect(err).toBeInstanceOf(DuplicateKeyError);
        expect(await users.count()).toBe(1);
      });

      it('moves the unique key with a changed email', async () => {
        await users.insert(user('usr_1', 'ann@example.com', clock.now()));
        await users.insert(user('usr_2', 'bob@example.com', clock.now()));
        expect(await rejection(users.update('usr_2', { email: 'Ann@example.com' }))).toBeInstanceOf(
          DuplicateKeyError,
        );
        const moved = await users.update('usr_2', { email: 'Robert@example.com' });
        expect(moved).toMatchObject({ email: 'Robert@example.com', emailLower: 'robert@example.com' });
        expect(await users.findByEmail('bob@example.com')).toBeNull();
        expect(await users.update('usr_nope', { name: 'x' })).toBeNull();
      });

      it('reads many users at once', async () => {
        for (const i of [1, 2, 3]) await users.insert(user(`usr_${i}`, `u${i}@example.com`, clock.now()));
        const got = await users.getMany(['usr_3', 'usr_1', 'usr_missing']);
        expect(got.map((u) => u.id).sort()).toEqual(['usr_1', 'usr_3']);
        expect(await users.getMany([])).toEqual([]);
      });
    });

    describe('workspace and membership repositories', () => {
      it('keeps slugs unique and finds by slug', async () => {
        const ws = workspace('ws_1', 'acme', clock.now());
        await workspaces.insert(ws, 1);
        expect(await workspaces.get('ws_1')).toEqual(ws); // the owner count stays internal
        expect(await workspaces.getBySlug('acme')).toEqual(ws);
        expect(await rejection(workspaces.insert(workspace('ws_2', 'acme', clock.now()), 1))).toBeInstanceOf(
          DuplicateKeyError,
        );
        await workspaces.insert(workspace('ws_2', 'other', clock.now()), 1);
        expect(await rejection(workspaces.update('ws_2', { slug: 'acme' }))).toBeInstanceOf(
          DuplicateKeyError,
        );
        expect(await workspaces.count()).toBe(2);
      });

      it('takes an owner off the count only while another remains', async () => {
        await workspaces.insert(workspace('ws_1', 'acme', clock.now()), 1);
        expect(await workspaces.releaseOwner('ws_1')).toBe(false);
        await workspaces.ownerAdded('ws_1');
        expect(await workspaces.ownerCount('ws_1')).toBe(2);
        expect(await workspaces.releaseOwner('ws_1')).toBe(true);
        expect(await workspaces.releaseOwner('ws_1')).toBe(false);
        expect(await workspaces.ownerCount('ws_1')).toBe(1);
      });

      atomic(atomicTitle('lets one of two concurrent owner releases win'), async () => {
        await workspaces.insert(workspace('ws_1', 'acme', clock.now()), 2);
        const both = await Promise.all([workspaces.releaseOwner('ws_1'), workspaces.releaseOwner('ws_1')]);
        expect(both.filter(Boolean)).toHaveLength(1);
        expect(await workspaces.ownerCount('ws_1')).toBe(1);
      });

      it('has one membership per workspace and user, listed both ways', async () => {
        const at = clock.now();
        const m = {
          id: membershipId('ws_1', 'usr_1'),
          workspaceId: 'ws_1',
          userId: 'usr_1',
          role: 'owner' as const,
          createdAt: at,
        };
        await memberships.insert(m);
        expect(await rejection(memberships.insert({ ...m, role: 'member' }))).toBeInstanceOf(
          DuplicateKeyError,
        );
        clock.advance(1000);
        await memberships.insert({
          ...m,
          id: membershipId('ws_1', 'usr_2'),
          userId: 'usr_2',
          role: 'member',
          createdAt: clock.now(),
        });
        clock.advance(1000);
        await memberships.insert({
          ...m,
          id: membershipId('ws_2', 'usr_1'),
          workspaceId: 'ws_2',
          createdAt: clock.now(),
        });
        expect((await memberships.ofWorkspace('ws_1')).map((x) => x.userId)).toEqual(['usr_1', 'usr_2']);
        expect((await memberships.ofUser('usr_1')).map((x) => x.workspaceId)).toEqual(['ws_1', 'ws_2']);
        expect(await memberships.get('ws_2', 'usr_2')).toBeNull();
        expect(await memberships.countWithRole('ws_1', 'owner')).toBe(1);
      });

      it('changes and deletes memberships only under the expected role', async () => {
        const m = {
          id: membershipId('ws_1', 'usr_1'),
          workspaceId: 'ws_1',
          userId: 'usr_1',
          role: 'member' as const,
          createdAt: clock.now(),
        };
        await memberships.insert(m);
        expect(await memberships.setRole('ws_1', 'usr_1', 'admin', 'owner')).toBeNull();
        expect(await memberships.setRole('ws_1', 'usr_1', 'member', 'admin')).toMatchObject({
          role: 'admin',
        });
        expect(await memberships.delete('ws_1', 'usr_1', 'member')).toBe(false);
        expect(await memberships.delete('ws_1', 'usr_1', 'admin')).toBe(true);
        expect(await memberships.get('ws_1', 'usr_1')).toBeNull();
      });
    });

    describe('account service', () => {
      it('creates users, refusing a taken email in any case with 409 email_taken', async () => {
        const ann = await accounts.createUser({
          email: ' Ann@Example.com',
          password: 'correct horse',
          name: 'Ann',
        });
        expect(ann).toMatchObject({
          email: 'Ann@Example.com',
          emailLower: 'ann@example.com',
          name: 'Ann',
          emailVerified: false,
        });
        expect(ann.id).toMatch(/^usr_[0-9a-f]{24}$/);
        expect(ann.passwordHash).toMatch(/^\$argon2id\$/);
        for (const input of [
          { email: 'ANN@example.com' },
          { email: 'ann@EXAMPLE.com', password: 'another one' },
        ]) {
          const err = await rejection(accounts.createUser(input));
          expect(err).toBeInstanceOf(AppError);
          expect(err).toMatchObject({ status: 409, code: 'email_taken' });
        }
      });

      it('refuses bad input with a 400 naming the field', async () => {
        expect(await rejection(accounts.createUser({ email: 'nope' }))).toMatchObject({
          status: 400,
          extra: { field: 'email' },
        });
        expect(await rejection(accounts.createUser({ email: 'a@b.io', password: 'short' }))).toMatchObject({
          status: 400,
          code: 'invalid_password',
        });
        expect(await rejection(accounts.createUser({ email: 'a@b.io', name: '  ' }))).toMatchObject({
          status: 400,
          extra: { field: 'name' },
        });
        expect(await users.count()).toBe(0);
      });

      it('authenticates with the right password only, in any email case', async () => {
        const ann = await accounts.createUser({ email: 'ann@example.com', password: 'correct horse' });
        expect((await accounts.authenticate('ANN@example.com', 'correct horse'))?.id).toBe(ann.id);
        expect(await accounts.authenticate('ann@example.com', 'wrong horse')).toBeNull();
        expect(await accounts.authenticate('bob@example.com', 'correct horse')).toBeNull();
        expect(await accounts.authenticate('not an email', 'correct horse')).toBeNull();
        await accounts.createUser({ email: 'fed@example.com' });
        expect(await accounts.authenticate('fed@example.com', '')).toBeNull();
        expect(await accounts.setDisabled(ann.id, true)).toMatchObject({ id: ann.id, disabled: true });
        expect(await accounts.authenticate('ann@example.com', 'correct horse')).toBeNull();
        expect(await accounts.setDisabled(ann.id, false)).not.toHaveProperty('disabled');
        expect((await accounts.authenticate('ann@example.com', 'correct horse'))?.id).toBe(ann.id);
        expect(await rejection(accounts.setDisabled('usr_nope', true))).toMatchObject({ status: 404 });
      });

      it('sets passwords under the policy and rehashes old-cost hashes on sign-in', async () => {
        const ann = await accounts.createUser({ email: 'ann@example.com', password: 'correct horse' });
        await accounts.setPassword(ann.id, 'battery staple');
        expect(await accounts.authenticate('ann@example.com', 'correct horse')).toBeNull();
        expect(await accounts.authenticate('ann@example.com', 'battery staple')).not.toBeNull();
        expect(await rejection(accounts.setPassword(ann.id, 'short'))).toMatchObject({ status: 400 });
        expect(await rejection(accounts.setPassword('usr_nope', 'long enough'))).toMatchObject({
          status: 404,
        });

        const stronger = new AccountService(storage, clock, { memoryKib: 2048, iterations: 1 });
        expect(await stronger.authenticate('ann@example.com', 'battery staple')).not.toBeNull();
        expect((await users.get(ann.id))?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=2048,t=1,p=1\$/);
        expect(await accounts.authenticate('ann@example.com', 'battery staple')).not.toBeNull();
      });
    });

    describe('workspace service', () => {
      it('creates a workspace with its creator as owner and a slug from the name', async () => {
        const ws = await service.create({ name: 'Acme Café' }, 'usr_1');
        expect(ws).toMatchObject({ name: 'Acme Café', slug: 'acme-cafe', settings: DEFAULT_SETTINGS });
        expect(ws.settings.accessTokenTtl).toBe(4 * 3600);
        expect(await service.membership(ws.id, 'usr_1')).toMatchObject({ role: 'owner' });
        const again = await service.create({ name: 'Acme  cafe' }, 'usr_2');
        expect(again.slug).toBe('acme-cafe-2');
        expect(await rejection(service.create({ name: 'X', slug: 'acme-cafe' }, 'usr_3'))).toMatchObject({
          status: 409,
          code: 'slug_taken',
        });
        expect(await service.resolve('acme-cafe')).toEqual(ws);
        expect(await service.resolve(ws.id)).toEqual(ws);
        expect((await service.listForUser('usr_1')).map((x) => [x.workspace.id, x.role])).toEqual([
          [ws.id, 'owner'],
        ]);
      });

      it('updates name, slug and settings together, validated as a whole', async () => {
        const ws = await service.create({ name: 'Acme', settings: { access_token_ttl: 600 } }, 'usr_1');
        expect(ws.settings.accessTokenTtl).toBe(600);
        clock.advance(5000);
        const up = await service.update(ws.id, {
          name: 'Acme Inc',
          settings: { api_key_header: 'X-Acme-Key' },
        });
        expect(up).toMatchObject({
          name: 'Acme Inc',
          slug: 'acme',
          settings: { accessTokenTtl: 600, apiKeyHeader: 'X-Acme-Key' },
        });
        expect(up.updatedAt.getTime()).toBe(ws.createdAt.getTime() + 5000);
        const cleared = await service.update(ws.id, { settings: { api_key_header: null } });
        expect(cleared.settings).not.toHaveProperty('apiKeyHeader');
        expect(await service.get(ws.id)).toEqual(cleared);
        expect(
          await rejection(service.update(ws.id, { settings: { refresh_token_ttl: 300 } })),
        ).toMatchObject({
          status: 400,
          extra: { field: 'settings.refresh_token_ttl' },
        });
        await service.create({ name: 'Other' }, 'usr_1');
        expect(await rejection(service.update(ws.id, { slug: 'other' }))).toMatchObject({
          status: 409,
          code: 'slug_taken',
        });
        expect(await rejection(service.update('ws_nope', { name: 'x' }))).toMatchObject({ status: 404 });
      });

      it('adds members once and changes their roles', async () => {
        const ws = await service.create({ name: 'Acme' }, 'usr_1');
        await service.addMember(ws.id, 'usr_2', 'member');
        expect(await rejection(service.addMember(ws.id, 'usr_2', 'admin'))).toMatchObject({
          status: 409,
          code: 'already_member',
        });
        expect(await rejection(service.addMember('ws_nope', 'usr_2', 'admin'))).toMatchObject({
          status: 404,
        });
        expect(await service.changeRole(ws.id, 'usr_2', 'admin')).toMatchObject({ role: 'admin' });
        expect((await service.members(ws.id)).map((m) => [m.userId, m.role])).toEqual([
          ['usr_1', 'owner'],
          ['usr_2', 'admin'],
        ]);
        expect(await rejection(service.changeRole(ws.id, 'usr_9', 'admin'))).toMatchObject({ status: 404 });
        await service.removeMember(ws.id, 'usr_2');
        expect(await service.membership(ws.id, 'usr_2')).toBeNull();
        expect(await rejection(service.removeMember(ws.id, 'usr_2'))).toMatchObject({ status: 404 });
      });

      it('never demotes or removes the last owner', async () => {
        const ws = await service.create({ name: 'Acme' }, 'usr_1');
        expect(await rejection(service.changeRole(ws.id, 'usr_1', 'admin'))).toMatchObject({
          status: 409,
          code: 'last_owner',
        });
        expect(await rejection(service.removeMember(ws.id, 'usr_1'))).toMatchObject({
          status: 409,
          code: 'last_owner',
        });
        await service.addMember(ws.id, 'usr_2', 'member');
        await service.changeRole(ws.id, 'usr_2', 'owner');
        await service.changeRole(ws.id, 'usr_1', 'member');
        expect(await rejection(service.removeMember(ws.id, 'usr_2'))).toMatchObject({ code: 'last_owner' });
        await service.addMember(ws.id, 'usr_3', 'owner');
        await service.removeMember(ws.id, 'usr_2');
        expect((await service.members(ws.id)).filter((m) => m.role === 'owner').map((m) => m.userId)).toEqual(
          ['usr_3'],
        );
      });

      atomic(atomicTitle('keeps an owner when two owners step down at the same time'), async () => {
        const ws = await service.create({ name: 'Acme' }, 'usr_1');
        await service.addMember(ws.id, 'usr_2', 'owner');
        const outcomes = await Promise.allSettled([
          service.changeRole(ws.id, 'usr_1', 'member'),
          service.removeMember(ws.id, 'usr_2'),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toMatchObject({ code: 'last_owner' });
        const owners = (await service.members(ws.id)).filter((m) => m.role === 'owner');
        expect(owners).toHaveLength(1);
      });
    });
  });
}
