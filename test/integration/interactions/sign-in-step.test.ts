import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AccountService } from '../../../src/accounts/service.ts';
import { signIn } from '../../../src/interactions/login.ts';
import { type Storage, systemClock } from '../../../src/storage/index.ts';
import { WorkspaceService } from '../../../src/workspaces/service.ts';
import { openEmbedded } from '../../helpers/stores.ts';

/**
 * The sign-in step against the real account and workspace services on an embedded store (cheap
 * argon2 cost). Spies only count the hasher's calls; they do not change what it does.
 */
const CHEAP = { memoryKib: 1024, iterations: 1 };
const PASSWORD = 'right password 1';

let cleanup: () => Promise<void>;
let storage: Storage;
let accounts: AccountService;
let workspaces: WorkspaceService;
let wsId: string;
let otherWsId: string;
const emails = { member: 'ada@example.com', outsider: 'eve@example.com', disabled: 'dan@example.com' };

beforeAll(async () => {
  const opened = await openEmbedded(systemClock);
  cleanup = opened.cleanup;
  storage = opened.storage;
  accounts = new AccountService(storage, systemClock, CHEAP);
  workspaces = new WorkspaceService(storage, systemClock);
  await storage.ensureIndexes();
  const ada = await accounts.createUser({ email: emails.member, password: PASSWORD, name: 'Ada' });
  const eve = await accounts.createUser({ email: emails.outsider, password: PASSWORD });
  const dan = await accounts.createUser({ email: emails.disabled, password: PASSWORD });
  wsId = (await workspaces.create({ name: 'Acme' }, ada.id)).id;
  otherWsId = (await workspaces.create({ name: 'Other' }, eve.id)).id;
  await workspaces.addMember(wsId, dan.id, 'member');
  await storage
    .collection<{ id: string; disabled?: boolean }>({ name: 'users' })
    .update({ id: dan.id }, { set: { disabled: true } });
});
afterAll(async () => {
  await cleanup?.();
});

/** argon2 verifications (real or dummy) during `fn`. */
async function verificationsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; count: number }> {
  const verify = vi.spyOn(accounts.hasher, 'verify');
  const nothing = vi.spyOn(accounts.hasher, 'verifyNothing');
  try {
    const result = await fn();
    return { result, count: verify.mock.calls.length + nothing.mock.calls.length };
  } finally {
    verify.mockRestore();
    nothing.mockRestore();
  }
}

describe('interaction sign-in', () => {
  const deps = () => ({ accounts, workspaces });

  it('signs in a member with the right password, whatever the case and spaces of the email', async () => {
    expect(await signIn(deps(), ' Ada@Example.com ', PASSWORD, wsId)).toMatchObject({
      ok: true,
      user: { email: emails.member },
    });
  });

  it('refuses missing or non-string fields before touching the store', async () => {
    const { count } = await verificationsDuring(async () => {
      for (const [e, p] of [
        ['', 'x'],
        [emails.member, ''],
        [[emails.member], PASSWORD],
        [emails.member, undefined],
      ] as [unknown, unknown][]) {
        expect(await signIn(deps(), e, p, wsId)).toEqual({ ok: false, reason: 'missing' });
      }
    });
    expect(count).toBe(0);
  });

  it('says the same thing, at the same cost, for a wrong password and an unknown email', async () => {
    const wrong = await verificationsDuring(() => signIn(deps(), emails.member, 'wrong password', wsId));
    const unknown = await verificationsDuring(() => signIn(deps(), 'bob@example.com', PASSWORD, wsId));
    expect(wrong.result).toEqual({ ok: false, reason: 'invalid' });
    expect(unknown.result).toEqual({ ok: false, reason: 'invalid' });
    expect(wrong.count).toBe(unknown.count);
  });

  it('says "disabled" only to someone who knows the password, at the same cost as any failure', async () => {
    const right = await verificationsDuring(() => signIn(deps(), emails.disabled, PASSWORD, wsId));
    const guess = await verificationsDuring(() => signIn(deps(), emails.disabled, 'a wrong guess', wsId));
    const unknown = await verificationsDuring(() => signIn(deps(), 'bob@example.com', PASSWORD, wsId));
    expect(right.result).toEqual({ ok: false, reason: 'disabled' });
    expect(guess.result).toEqual({ ok: false, reason: 'invalid' });
    expect(right.count).toBe(unknown.count);
    expect(guess.count).toBe(unknown.count);
  });

  it("refuses a valid account that is not a member of the app's workspace", async () => {
    expect(await signIn(deps(), emails.outsider, PASSWORD, wsId)).toEqual({
      ok: false,
      reason: 'not_member',
    });
    expect(await signIn(deps(), emails.member, PASSWORD, otherWsId)).toEqual({
      ok: false,
      reason: 'not_member',
    });
  });

  it('refuses absurdly long input without hashing it', async () => {
    const { result, count } = await verificationsDuring(() =>
      signIn(deps(), emails.member, 'x'.repeat(5000), wsId),
    );
    expect(result).toEqual({ ok: false, reason: 'invalid' });
    expect(count).toBe(0);
  });
});
