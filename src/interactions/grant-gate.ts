import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import { clientWorkspaceId } from './workspace.ts';

interface Memberships {
  membership(workspaceId: string, userId: string): Promise<unknown | null>;
  /** For the workspace's sign-in methods: a password session counts only where password sign-in is allowed. */
  get?(workspaceId: string): Promise<{ settings: { signInMethods: readonly string[] } } | null>;
}

/**
 * oidc-provider's `loadExistingGrant` with a membership gate: a remembered grant counts only
 * while the account is still a member of the client's workspace. Otherwise the provider asks for
 * consent again, and the consent page (routes.ts) sends a non-member to sign in with an account
 * of that workspace — so removing someone from a workspace ends their silent sign-ins to its apps.
 */
export function loadExistingGrantForMembers(workspaces: Memberships) {
  return async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const { client, session, result } = ctx.oidc;
    if (!client || !session) return undefined;
    const grantId =
      (result as { consent?: { grantId?: string } } | undefined)?.consent?.grantId ??
      session.grantIdFor(client.clientId);
    if (!grantId) return undefined;
    const workspaceId = clientWorkspaceId(client);
    const accountId = session.accountId;
    if (!workspaceId || !accountId || !(await workspaces.membership(workspaceId, accountId)))
      return undefined;
    if (workspaces.get && !(await workspaces.get(workspaceId))?.settings.signInMethods.includes('password'))
      return undefined;
    return ctx.oidc.provider.Grant.find(grantId);
  };
}
