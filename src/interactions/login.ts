import type { User } from '../accounts/model.ts';
import type { Workspace } from '../workspaces/model.ts';

/** What the sign-in step needs from the account services (a slice of the container). */
export interface SignInDeps {
  accounts: {
    authenticate(email: string, password: string): Promise<User | null>;
    findByEmail(email: string): Promise<User | null>;
    hasher: {
      verify(stored: string, password: string): Promise<boolean>;
      verifyNothing(password: string): Promise<false>;
    };
  };
  workspaces: { membership(workspaceId: string, userId: string): Promise<unknown | null> };
}

export type SignInFailure =
  | 'missing'
  | 'invalid'
  | 'disabled'
  | 'not_member'
  | 'password_off'
  | 'rate_limited';
export type SignInOutcome = { ok: true; user: User } | { ok: false; reason: SignInFailure };

const MAX_EMAIL = 254;
const MAX_PASSWORD = 1024;

/**
 * Email + password, then membership of the client's workspace.
 *
 * "Disabled" is said only to someone who knows the password, so it reveals nothing to a guesser.
 * Telling it apart costs a second argon2 verification, so every failed attempt pays one (real or
 * dummy): a failure takes the same time whether the email is unknown, wrong, or disabled.
 */
export async function signIn(
  deps: SignInDeps,
  email: unknown,
  password: unknown,
  workspaceId: string,
): Promise<SignInOutcome> {
  if (typeof email !== 'string' || typeof password !== 'string') return { ok: false, reason: 'missing' };
  const e = email.trim();
  if (!e || !password) return { ok: false, reason: 'missing' };
  if (e.length > MAX_EMAIL || password.length > MAX_PASSWORD) return { ok: false, reason: 'invalid' };

  const user = await deps.accounts.authenticate(e, password);
  if (!user) {
    const known = await deps.accounts.findByEmail(e).catch(() => null);
    if (known?.disabled && known.passwordHash) {
      const right = await deps.accounts.hasher.verify(known.passwordHash, password);
      return { ok: false, reason: right ? 'disabled' : 'invalid' };
    }
    await deps.accounts.hasher.verifyNothing(password);
    return { ok: false, reason: 'invalid' };
  }
  if (user.disabled) return { ok: false, reason: 'disabled' };
  const member = await deps.workspaces.membership(workspaceId, user.id);
  if (!member) return { ok: false, reason: 'not_member' };
  return { ok: true, user };
}

export interface FormError {
  field?: 'email' | 'password';
  title: string;
  detail: string;
}

/** Whether the workspace lets its members sign in with a password (a workspace may allow only SSO). */
export function passwordAllowed(workspace: Pick<Workspace, 'settings'> | null): boolean {
  return workspace?.settings.signInMethods.includes('password') ?? false;
}

export function signInError(
  reason: SignInFailure,
  workspace: Pick<Workspace, 'name'> | null,
  retryAfterSeconds = 60,
): FormError {
  const where = workspace ? workspace.name : 'this organisation';
  switch (reason) {
    case 'rate_limited':
      return {
        title: 'Too many sign-in attempts',
        detail: `For your security, wait ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'} before trying again.`,
      };
    case 'missing':
      return {
        field: 'email',
        title: 'Enter your email and password',
        detail: 'Both are needed to sign in.',
      };
    case 'invalid':
      return {
        field: 'password',
        title: 'Wrong email or password',
        detail: 'Check them and try again. Passwords are case-sensitive.',
      };
    case 'disabled':
      return {
        title: 'This account is disabled',
        detail: 'Contact your administrator to have it enabled again.',
      };
    case 'not_member':
      return {
        title: `Your account does not have access to ${where}`,
        detail: `Ask an administrator of ${where} to add you, or sign in with another account.`,
      };
    case 'password_off':
      return {
        title: 'Password sign-in is turned off',
        detail: `${where} does not allow signing in with a password. Use your organisation's sign-in instead.`,
      };
  }
}
