export type Role = 'owner' | 'admin' | 'member';
export const ROLES: Role[] = ['owner', 'admin', 'member'];

/** An account. `emailLower` is unique: emails are case-insensitive. */
export interface User {
  id: string; // usr_...
  email: string;
  emailLower: string;
  emailVerified: boolean;
  name?: string;
  /** argon2id; absent for accounts that only sign in through a federated IdP. */
  passwordHash?: string;
  disabled?: boolean;
  /**
   * The workspace whose admin created this account with a password they chose. Its credentials
   * are that workspace's to hand out, so no other workspace may add the account (an admin could
   * otherwise pre-create someone's account, then sign in as them wherever they are invited).
   */
  managedBy?: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface Membership {
  id: string; // `${workspaceId}:${userId}`
  workspaceId: string;
  userId: string;
  role: Role;
  createdAt: Date;
}
