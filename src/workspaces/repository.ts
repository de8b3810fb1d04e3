import type { Membership, Role } from '../accounts/model.ts';
import type { Collection, CollectionSpec, Storage } from '../storage/index.ts';
import type { Workspace } from './model.ts';

export const WORKSPACES: CollectionSpec = {
  name: 'workspaces',
  indexes: [{ fields: ['slug'], unique: true }],
};

export const MEMBERSHIPS: CollectionSpec = {
  name: 'memberships',
  indexes: [
    { fields: ['workspaceId', 'userId'], unique: true },
    { fields: ['workspaceId'] },
    { fields: ['userId'] },
  ],
};

/**
 * The stored form keeps a count of owners beside the workspace. The port has no transactions, so
 * "never leave a workspace without an owner" is guarded by a conditional decrement of this count
 * (`ownerCount > 1`) before an owner is demoted or removed. Every path that could leave it out of
 * step with the memberships (a crash between the two writes) leaves it LOWER than the truth, which
 * only ever refuses a demotion, never allows a workspace without owners.
 */
type WorkspaceDoc = Workspace & { ownerCount: number };

type WorkspaceChanges = Partial<Pick<Workspace, 'name' | 'slug' | 'settings' | 'updatedAt'>>;

function toWorkspace(doc: WorkspaceDoc | null): Workspace | null {
  if (!doc) return null;
  const { ownerCount: _, ...ws } = doc;
  return ws;
}

export class WorkspaceRepository {
  private readonly docs: Collection<WorkspaceDoc>;

  constructor(storage: Storage) {
    this.docs = storage.collection<WorkspaceDoc>(WORKSPACES);
  }

  /** DuplicateKeyError on a taken slug. */
  insert(ws: Workspace, ownerCount: number): Promise<void> {
    return this.docs.insert({ ...ws, ownerCount });
  }

  async get(id: string): Promise<Workspace | null> {
    return toWorkspace(await this.docs.get(id));
  }

  async getBySlug(slug: string): Promise<Workspace | null> {
    return toWorkspace(await this.docs.findOne({ slug }));
  }

  async getMany(ids: readonly string[]): Promise<Workspace[]> {
    if (!ids.length) return [];
    const docs = await this.docs.find(
      { id: { $in: [...ids] } },
      { sort: { field: 'createdAt', order: 'asc' } },
    );
    return docs.map((d) => toWorkspace(d)!);
  }

  async list(limit = 1000): Promise<Workspace[]> {
    const docs = await this.docs.find({}, { sort: { field: 'createdAt', order: 'asc' }, limit });
    return docs.map((d) => toWorkspace(d)!);
  }

  count(): Promise<number> {
    return this.docs.count({});
  }

  /** DuplicateKeyError on a taken slug; null when there is no such workspace. */
  async update(id: string, set: WorkspaceChanges): Promise<Workspace | null> {
    return toWorkspace(await this.docs.update({ id }, { set }));
  }

  async delete(id: string): Promise<boolean> {
    return (await this.docs.delete({ id })) > 0;
  }

  async ownerCount(id: string): Promise<number> {
    return (await this.docs.get(id))?.ownerCount ?? 0;
  }

  async ownerAdded(id: string): Promise<void> {
    await this.docs.update({ id }, { inc: { ownerCount: 1 } });
  }

  /** Atomically takes one owner off the count, only if another owner remains; false otherwise. */
  async releaseOwner(id: string): Promise<boolean> {
    return (await this.docs.update({ id, ownerCount: { $gt: 1 } }, { inc: { ownerCount: -1 } })) !== null;
  }
}

export function membershipId(workspaceId: string, userId: string): string {
  return `${workspaceId}:${userId}`;
}

export class MembershipRepository {
  private readonly docs: Collection<Membership>;

  constructor(storage: Storage) {
    this.docs = storage.collection<Membership>(MEMBERSHIPS);
  }

  /** DuplicateKeyError when the user is already a member. */
  insert(m: Membership): Promise<void> {
    return this.docs.insert(m);
  }

  get(workspaceId: string, userId: string): Promise<Membership | null> {
    return this.docs.get(membershipId(workspaceId, userId));
  }

  ofWorkspace(workspaceId: string): Promise<Membership[]> {
    return this.docs.find({ workspaceId }, { sort: { field: 'createdAt', order: 'asc' } });
  }

  ofUser(userId: string): Promise<Membership[]> {
    return this.docs.find({ userId }, { sort: { field: 'createdAt', order: 'asc' } });
  }

  countWithRole(workspaceId: string, role: Role): Promise<number> {
    return this.docs.count({ workspaceId, role });
  }

  /** Changes the role only if it still is `from` (the caller's precondition); null otherwise. */
  setRole(workspaceId: string, userId: string, from: Role, to: Role): Promise<Membership | null> {
    return this.docs.update({ id: membershipId(workspaceId, userId), role: from }, { set: { role: to } });
  }

  /** Removes the membership only if its role still is `role`; false otherwise. */
  async delete(workspaceId: string, userId: string, role: Role): Promise<boolean> {
    return (await this.docs.delete({ id: membershipId(workspaceId, userId), role })) > 0;
  }
}
