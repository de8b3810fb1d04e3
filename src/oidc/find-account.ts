import type { Account, FindAccount } from 'oidc-provider';
import type { User } from '../accounts/model.ts';

/** The claims of each OpenID scope (OIDC Core §5.4), as far as an account has them. */
export const CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name'],
};

/**
 * oidc-provider's `findAccount`: a user of the store, while not disabled. A disabled or deleted
 * account has no claims and no tokens (the provider refuses grants for an unknown account).
 */
export function findAccountIn(accounts: { getUser(id: string): Promise<User | null> }): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    const user = await accounts.getUser(sub);
    if (!user || user.disabled) return undefined;
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
