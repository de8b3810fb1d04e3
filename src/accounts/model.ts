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
