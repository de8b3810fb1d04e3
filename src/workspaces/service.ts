import { randomBytes } from 'node:crypto';
import type { Membership, Role } from '../accounts/model.ts';
import { AppError, checkField, httpErrors } from '../http/errors.ts';
import { type Clock, DuplicateKeyError, type Storage } from '../storage/index.ts';
import type { Workspace } from './model.ts';
import { MembershipRepository, membershipId, WorkspaceRepository } from './repository.ts';
import {
  applySettingsPatch,
  defaultSettings,
  nameSchema,
  type SettingsPatch,
  slugify,
  slugSchema,
} from './settings.ts';

export interface NewWorkspace {
  name: string;
  slug?: string;
  settings?: SettingsPatch;
}

export interface WorkspacePatch {
  name?: string;
  slug?: string;
  settings?: SettingsPatch;
}

export const workspaceErrors = {
  noSuchWorkspace: () => httpErrors.notFound('workspace'),
  noSuchMember: () => httpErrors.notFound('member'),
  slugTaken: (slug: string) =>
    new AppError(409, 'slug_taken', `The workspace slug "${slug}" is taken.`, { field: 'slug' }),
  alreadyMember: () => new AppError(409, 'already_member', 'This user is already a member of the workspace.'),
  lastOwner: () =>
    new AppError(
      409,
      'last_owner',
      'A workspace must keep at least one owner: make another member owner first.',
    ),
  busy: () => new AppError(409, 'conflict', 'The membership changed while we worked on it; try again.'),
};

const ATTEMPTS = 5;

/**
 * Workspaces and memberships. Invariant: a workspace always has at least one owner; see the
 * owner count in repository.ts for how that holds without transactions.
 */
export class WorkspaceService {
  private readonly workspaces: WorkspaceRepository;
  private readonly memberships: MembershipRepository;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
  ) {
    this.workspaces = new WorkspaceRepository(storage);
    this.memberships = new MembershipRepository(storage);
  }

  /** The workspace with `ownerUserId` as its first owner. 409 `slug_taken` for a given, taken slug. */
  async create(input: NewWorkspace, ownerUserId: string): Promise<Workspace> {
    const name = checkField(nameSchema, input.name, 'name');
    const settings = defaultSettings(input.settings);
    const explicit = input.slug !== undefined ? checkField(slugSchema, input.slug, 'slug') : undefined;
    const base = slugify(name);
    for (let attempt = 0; attempt < ATTEMPTS + 2; attempt++) {
      // Without a slug: "acme", then "acme-2".."acme-6", then a random suffix.
      const slug =
        explicit ??
        (attempt === 0
          ? base
          : attempt <= ATTEMPTS
            ? `${base}-${attempt + 1}`
            : `${base}-${randomBytes(4).toString('hex')}`);
      const now = this.clock.now();
      const ws: Workspace = {
        id: `ws_${randomBytes(12).toString('hex')}`,
        name,
        slug,
        settings,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await this.workspaces.insert(ws, 1);
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        if (explicit) throw workspaceErrors.slugTaken(slug);
        continue;
      }
      try {
        await this.memberships.insert({
          id: membershipId(ws.id, ownerUserId),
          workspaceId: ws.id,
          userId: ownerUserId,
          role: 'owner',
          createdAt: now,
        });
      } catch (err) {
        await this.workspaces.delete(ws.id);
        throw err;
      }
      return ws;
    }
    throw workspaceErrors.slugTaken(base);
  }

  get(id: string): Promise<Workspace | null> {
    return this.workspaces.get(id);
  }

  getBySlug(slug: string): Promise<Workspace | null> {
    return this.workspaces.getBySlug(slug);
  }

  /** By id (`ws_...`) or slug: slugs cannot contain "_", so the two never collide. */
  resolve(idOrSlug: string): Promise<Workspace | null> {
    return idOrSlug.startsWith('ws_') ? this.workspaces.get(idOrSlug) : this.workspaces.getBySlug(idOrSlug);
  }

  /** 404 when there is no such workspace; 409 `slug_taken`; 400 when the settings do not fit together. */
  async update(id: string, patch: WorkspacePatch): Promise<Workspace> {
    const current = await this.workspaces.get(id);
    if (!current) throw workspaceErrors.noSuchWorkspace();
    const name = patch.name !== undefined ? checkField(nameSchema, patch.name, 'name') : undefined;
    const slug = patch.slug !== undefined ? checkField(slugSchema, patch.slug, 'slug') : undefined;
    const settings = patch.settings ? applySettingsPatch(current.settings, patch.settings) : undefined;
    if (slug && slug !== current.slug) {
      // Asked first for a clear answer; the unique index still settles a race.
      const holder = await this.workspaces.getBySlug(slug);
      if (holder && holder.id !== id) throw workspaceErrors.slugTaken(slug);
    }
    try {
      const updated = await this.workspaces.update(id, { name, slug, settings, updatedAt: this.clock.now() });
      if (!updated) throw workspaceErrors.noSuchWorkspace();
      return updated;
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw workspaceErrors.slugTaken(slug ?? current.slug);
      throw err;
    }
  }

  count(): Promise<number> {
    return this.workspaces.count();
  }

  /** Every workspace, oldest first (operator use: the CLI). */
  list(limit?: number): Promise<Workspace[]> {
    return this.workspaces.list(limit);
  }

  /** The workspaces a user belongs to, with the user's role in each, oldest membership first. */
  async listForUser(userId: string): Promise<{ workspace: Workspace; role: Role }[]> {
    const memberships = await this.memberships.ofUser(userId);
    const byId = new Map(
      (await this.workspaces.getMany(memberships.map((m) => m.workspaceId))).map((w) => [w.id, w]),
    );
    return memberships.flatMap((m) => {
      const workspace = byId.get(m.workspaceId);
      return workspace ? [{ workspace, role: m.role }] : [];
    });
  }

  membership(workspaceId: string, userId: string): Promise<Membership | null> {
    return this.memberships.get(workspaceId, userId);
  }

  membershipsOf(userId: string): Promise<Membership[]> {
    return this.memberships.ofUser(userId);
  }

  members(workspaceId: string): Promise<Membership[]> {
    return this.memberships.ofWorkspace(workspaceId);
  }

  /** 404 when there is no such workspace; 409 `already_member`. */
  async addMember(workspaceId: string, userId: string, role: Role): Promise<Membership> {
    if (!(await this.workspaces.get(workspaceId))) throw workspaceErrors.noSuchWorkspace();
    const m: Membership = {
      id: membershipId(workspaceId, userId),
      workspaceId,
      userId,
      role,
      createdAt: this.clock.now(),
    };
    try {
      await this.memberships.insert(m);
    } catch (err) {
      if (err instanceof DuplicateKeyError) throw workspaceErrors.alreadyMember();
      throw err;
    }
    // Counted after the membership exists: the count may lag behind, never run ahead.
    if (role === 'owner') await this.workspaces.ownerAdded(workspaceId);
    return m;
  }

  /** 404 when not a member; 409 `last_owner` when this would demote the only owner. */
  async changeRole(workspaceId: string, userId: string, role: Role): Promise<Membership> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const m = await this.memberships.get(workspaceId, userId);
      if (!m) throw workspaceErrors.noSuchMember();
      if (m.role === role) return m;
      if (m.role === 'owner') {
        if (!(await this.workspaces.releaseOwner(workspaceId))) throw workspaceErrors.lastOwner();
        const updated = await this.memberships.setRole(workspaceId, userId, 'owner', role);
        if (updated) return updated;
        await this.workspaces.ownerAdded(workspaceId); // someone else changed it first: undo, look again
        continue;
      }
      const updated = await this.memberships.setRole(workspaceId, userId, m.role, role);
      if (!updated) continue;
      if (role === 'owner') await this.workspaces.ownerAdded(workspaceId);
      return updated;
    }
    throw workspaceErrors.busy();
  }

  /** 404 when not a member; 409 `last_owner` when this is the only owner. */
  async removeMember(workspaceId: string, userId: string): Promise<void> {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const m = await this.memberships.get(workspaceId, userId);
      if (!m) throw workspaceErrors.noSuchMember();
      if (m.role === 'owner') {
        if (!(await this.workspaces.releaseOwner(workspaceId))) throw workspaceErrors.lastOwner();
        if (await this.memberships.delete(workspaceId, userId, 'owner')) return;
        await this.workspaces.ownerAdded(workspaceId);
        continue;
      }
      if (await this.memberships.delete(workspaceId, userId, m.role)) return;
    }
    throw workspaceErrors.busy();
  }
}
