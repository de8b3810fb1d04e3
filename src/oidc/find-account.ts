import type { Account, FindAccount } from 'oidc-provider';
import type { User } from '../accounts/model.ts';
import { clientWorkspaceId } from '../interactions/workspace.ts';

/** The claims of each OpenID scope (OIDC Core §5.4), as far as an account has them. */
export const CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name'],
};

/**
 * oidc-provider's `findAccount`: a user of the store, while not disabled and, for a workspace's
 * client, while a member of that workspace. Otherwise the account has no claims and no tokens
 * (the provider refuses grants for an unknown account).
 */
const INTERACTIVE_ROUTES: ReadonlySet<string> = new Set(['authorization', 'resume']);

export function findAccountIn(
  accounts: { getUser(id: string): Promise<User | null> },
  workspaces: { membership(workspaceId: string, userId: string): Promise<unknown | null> },
): FindAccount {
  return async (ctx, sub): Promise<Account | undefined> => {
    // A workspace's client serves that workspace's members only: a removed member's app can no
    // longer refresh (the provider answers invalid_grant). At /authorize the
    // session's account is still found: the interaction pages tell a non-member they have no access.
    const client = ctx?.oidc?.client;
    const route = ctx?.oidc?.route;
    const workspaceId =
      client && !INTERACTIVE_ROUTES.has(route ?? '') ? clientWorkspaceId(client) : undefined;
    const [user, member] = await Promise.all([
      accounts.getUser(sub),
      workspaceId ? workspaces.membership(workspaceId, sub) : true,
    ]);
    if (!user || user.disabled || !member) {
      // A browser session of a disabled or deleted account is over: without its account the
      // provider would go on to the consent check with no grant (a 500). Dropping the session's
      // account sends the browser to the sign-in page instead.
      // (The provider's session proxy refuses `accountId = undefined`; it lets a property go.)
      const session = ctx?.oidc?.session as { accountId?: string; touched?: boolean } | undefined;
      if ((!user || user.disabled) && session?.accountId === sub) {
        delete session.accountId;
        session.touched = true;
      }
      return undefined;
    }
    return {
      accountId: user.id,
      claims: () => ({
        sub: user.id,
        email: user.email,
        email_verified: user.emailVerified,
        ...(user.name ? { name: user.name } : {}),
      }),
    };
  };
}
