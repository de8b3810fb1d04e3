import type { Role } from '../accounts/model.ts';

/**
 * Who may change a workspace's members, as a pure decision (the last-owner rule is the
 * service's, because it needs the store):
 * - owners may do anything;
 * - admins manage members and admins, but never grant, revoke or remove `owner`;
 * - members manage nobody; anyone may leave a workspace themselves.
 */
export type MemberChange =
  | { kind: 'add'; role: Role }
  | { kind: 'change'; from: Role; to: Role }
  | { kind: 'remove'; role: Role; self: boolean };

export const MANAGERS: Role[] = ['owner', 'admin'];

/** Why the actor may not make this change, as a sentence; null when allowed. */
export function memberChangeRefusal(actor: Role, change: MemberChange): string | null {
  if (change.kind === 'remove' && change.self) return null;
  if (actor === 'owner') return null;
  if (actor !== 'admin') return 'Only owners and admins manage the members of a workspace.';
  const touchesOwner =
    change.kind === 'add'
      ? change.role === 'owner'
      : change.kind === 'change'
        ? change.from === 'owner' || change.to === 'owner'
        : change.role === 'owner';
  return touchesOwner ? 'Only owners grant, revoke or remove the owner role.' : null;
}
