import { z } from 'zod';
import { AppError, httpErrors, parseInput } from '../http/errors.ts';
import { Memo, whenReady } from '../memo.ts';
import {
  type Clock,
  type Collection,
  type CollectionSpec,
  DuplicateKeyError,
  type Storage,
} from '../storage/port.ts';

/**
 * The scopes catalogue and presets of a workspace.
 *
 * The catalogue is the built-in list below merged with the workspace's own documents: a document
 * named like a built-in scope overrides it (edit, retire), any other name is a custom scope.
 * Presets are the three built-ins plus the workspace's own. Retired scopes can no longer be
 * granted (to new keys, edits or presets); keys that already hold one keep it until edited.
 *
 * This file is longer than most: the catalogue data is ~100 lines, and the pure merge rules sit
 * next to the small service that stores a workspace's changes, so the whole concept reads in one place.
 */
export type Risk = 'low' | 'medium' | 'high';
export const RISKS: readonly Risk[] = ['low', 'medium', 'high'];

/** A guardrail: at most `limit` verifications requiring the scope per key per window (applies to grant-all keys too). */
export interface ScopeCap {
  limit: number;
  windowSeconds: number;
}

export interface ScopeDefinition {
  name: string;
  description: string;
  risk: Risk;
  /** Tools or endpoints the scope unlocks, shown when a scope card is expanded. */
  unlocks: string[];
  cap: ScopeCap | null;
  retired: boolean;
  source: 'builtin' | 'custom';
}

type Builtin = Omit<ScopeDefinition, 'retired' | 'source' | 'cap'> & { cap?: ScopeCap };

const s = (
  name: string,
  risk: Risk,
  description: string,
  unlocks: string[] = [],
  cap?: ScopeCap,
): Builtin => ({
  name,
  risk,
  description,
  unlocks,
  ...(cap ? { cap } : {}),
});

/** Reads are always apart from writes. Low: reads and safe generation; medium: ordinary edits; high: trust-sensitive. */
export const BUILTIN_SCOPES: readonly Builtin[] = [
  s('videos:read', 'low', 'List and read videos and their metadata', [
    'GET /videos',
    'GET /videos/{id}',
    'list_videos',
  ]),
  s('videos:write', 'medium', 'Create, edit and delete videos and their metadata', [
    'POST /videos',
    'PATCH /videos/{id}',
  ]),
  s('collections:read', 'low', 'List and read collections', ['GET /collections', 'list_collections']),
  s('collections:write', 'medium', 'Create, edit and delete collections', [
    'POST /collections',
    'PATCH /collections/{id}',
  ]),
  s('playlists:read', 'low', 'List and read playlists', ['GET /playlists']),
  s('playlists:write', 'medium', 'Create, edit and delete playlists', [
    'POST /playlists',
    'PATCH /playlists/{id}',
  ]),
  s('comments:read', 'low', 'Read comments', ['GET /comments']),
  s('comments:write', 'medium', 'Post, edit and moderate comments', [
    'POST /comments',
    'DELETE /comments/{id}',
  ]),
  s('tags:read', 'low', 'List tags', ['GET /tags']),
  s('tags:write', 'medium', 'Create, rename and delete tags', ['POST /tags']),
  s('members:read', 'low', 'List members and read their profiles', ['GET /members', 'list_members']),
  s('members:write', 'high', 'Invite, edit and remove members', ['POST /members', 'DELETE /members/{id}']),
  s('analytics:read', 'low', 'Read analytics and reports', ['GET /analytics']),
  s('emails:send', 'high', 'Send emails to members', ['POST /emails', 'send_email'], {
    limit: 1000,
    windowSeconds: 86_400,
  }),
  s('subscriptions:read', 'low', 'Read subscriptions and plans', ['GET /subscriptions']),
  s(
    'subscriptions:manage',
    'high',
    'Create, change and cancel subscriptions (acts on the connected billing account)',
    ['POST /subscriptions'],
  ),
  s('access:read', 'low', 'See who holds free or granted access', ['GET /access']),
  s('access:grant', 'high', 'Grant or withdraw free access', ['POST /access', 'DELETE /access/{id}']),
  s('api_keys:read', 'medium', "List API keys' metadata (never their secrets)", ['GET /api/v1/keys']),
  s('api_keys:manage', 'high', 'Create, edit, rotate and revoke API keys', [
    'POST /api/v1/keys',
    'DELETE /api/v1/keys/{id}',
  ]),
  s('webhooks:read', 'low', 'Read webhook endpoints and delivery logs', ['GET /api/v1/webhook']),
  s('webhooks:manage', 'high', 'Create, change and delete webhook endpoints', ['PUT /api/v1/webhook']),
  s('credits:read', 'low', 'Read the credit balance', ['GET /api/v1/credits']),
  s('credits:manage', 'high', 'Top up and adjust credits', ['POST /api/v1/credits']),
  s('library:read', 'low', 'Browse library resources', ['GET /library']),
  s('library:upload', 'medium', 'Upload new library resources', ['POST /library/uploads']),
  s('library:manage', 'medium', 'Update and delete existing library resources', [
    'PATCH /library/{id}',
    'DELETE /library/{id}',
  ]),
  s('streams:read', 'low', 'List streams', ['GET /streams']),
  s('streams:create', 'medium', 'Create streams', ['POST /streams']),
  s('streams:manage', 'medium', 'Update and stop streams', ['PATCH /streams/{id}', 'DELETE /streams/{id}']),
  s('downloads:request', 'low', 'Request downloads of videos and streams', ['POST /downloads']),
  s('content:generate', 'low', 'Generate text content', ['generate_text']),
  s('images:generate', 'low', 'Generate and edit images', ['generate_image', 'remove_background']),
  s('speech:generate', 'low', 'Generate speech and sound effects', ['text_to_speech']),
  s('avatars:generate', 'low', 'Generate avatar clips', ['generate_avatar_clip']),
  s('files:read', 'low', 'List, search and read files', ['GET /files']),
  s('files:write', 'medium', 'Upload, archive and publish files', ['POST /files']),
  s('settings:read', 'low', 'Read workspace settings', ['GET /api/v1/settings']),
  s('settings:write', 'high', 'Change workspace settings', ['PUT /api/v1/settings']),
  s('usage:read', 'low', 'Read usage statistics', ['GET /api/v1/usage']),
  s('audit:read', 'medium', 'Read the audit log', ['GET /api/v1/audit']),
  s('sso:manage', 'high', 'Configure SSO connections', ['PUT /api/v1/sso']),
  s('clients:manage', 'high', 'Register and change OAuth clients', ['POST /api/v1/clients']),
];

export interface Preset {
  name: string;
  description: string;
  scopes: string[];
  source: 'builtin' | 'custom';
}

export const FULL_ACCESS = 'full-access';
const BUILTIN_PRESETS: readonly Omit<Preset, 'source'>[] = [
  {
    name: 'read-only',
    description: 'Read videos, collections and members',
    scopes: ['videos:read', 'collections:read', 'members:read'],
  },
  {
    name: 'content-agent',
    description: 'Read and write videos and collections, plus content and image generation',
    scopes: [
      'videos:read',
      'videos:write',
      'collections:read',
      'collections:write',
      'content:generate',
      'images:generate',
    ],
  },
  // Scopes filled in from the catalogue: every scope not retired when the preset is used.
  {
    name: FULL_ACCESS,
    description: 'Every scope of the catalogue (only for clients you completely control)',
    scopes: [],
  },
];

export const SCOPE_NAME_RE = /^[a-z][a-z0-9_]{0,31}(?::[a-z][a-z0-9_]{0,31}){1,2}$/;
export const PRESET_NAME_RE = /^[a-z][a-z0-9_-]{0,39}$/;

export const scopeName = z.string().regex(SCOPE_NAME_RE, 'a scope looks like `videos:read` (no wildcards)');
export const presetName = z
  .string()
  .regex(PRESET_NAME_RE, 'a preset name is lowercase letters, digits, - and _');
const cap = z.object({
  limit: z.number().int().min(1).max(1e9),
  windowSeconds: z
    .number()
    .int()
    .min(1)
    .max(31 * 86_400),
});
const scopeFields = {
  description: z.string().trim().min(1).max(300),
  risk: z.enum(RISKS),
  unlocks: z.array(z.string().trim().min(1).max(200)).max(50),
  cap: cap.nullable(),
};
export const newScopeInput = z.strictObject({
  name: scopeName,
  ...scopeFields,
  unlocks: scopeFields.unlocks.default([]),
  cap: scopeFields.cap.default(null),
});
export const scopePatch = z.strictObject(scopeFields).partial();
export const newPresetInput = z.strictObject({
  name: presetName,
  description: z.string().trim().max(300).default(''),
  scopes: z.array(scopeName).min(1).max(200),
});
export const presetPatch = z.strictObject({
  description: z.string().trim().max(300).optional(),
  scopes: z.array(scopeName).min(1).max(200).optional(),
});

interface ScopeDoc {
  id: string; // `${workspaceId}:${name}`
  workspaceId: string;
  name: string;
  description?: string;
  risk?: Risk;
  unlocks?: string[];
  cap?: ScopeCap | null;
  retired: boolean;
  createdAt: Date;
  updatedAt: Date;
}

interface PresetDoc {
  id: string;
  workspaceId: string;
  name: string;
  description: string;
  scopes: string[];
  createdAt: Date;
  updatedAt: Date;
}

const scopesSpec: CollectionSpec = {
  name: 'workspace_scopes',
  indexes: [{ fields: ['workspaceId', 'name'], unique: true }],
};
const presetsSpec: CollectionSpec = {
  name: 'workspace_presets',
  indexes: [{ fields: ['workspaceId', 'name'], unique: true }],
};

const BUILTIN_BY_NAME = new Map(BUILTIN_SCOPES.map((b) => [b.name, b]));

/** The workspace's catalogue: built-ins with their overrides applied, then custom scopes. Pure. */
export function mergeCatalogue(
  docs: readonly Omit<ScopeDoc, 'id' | 'workspaceId' | 'createdAt' | 'updatedAt'>[],
) {
  const byName = new Map(docs.map((d) => [d.name, d]));
  const out: ScopeDefinition[] = BUILTIN_SCOPES.map((b) => {
    const o = byName.get(b.name);
    return {
      name: b.name,
      description: o?.description ?? b.description,
      risk: o?.risk ?? b.risk,
      unlocks: o?.unlocks ?? b.unlocks,
      cap: o?.cap !== undefined ? o.cap : (b.cap ?? null),
      retired: o?.retired ?? false,
      source: 'builtin',
    };
  });
  const custom = docs
    .filter((d) => !BUILTIN_BY_NAME.has(d.name))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const d of custom) {
    out.push({
      name: d.name,
      description: d.description ?? '',
      risk: d.risk ?? 'high',
      unlocks: d.unlocks ?? [],
      cap: d.cap ?? null,
      retired: d.retired,
      source: 'custom',
    });
  }
  return out;
}

/** Which of `scopes` the catalogue does not know, and which it has retired. Pure. */
export function ungrantable(catalogue: readonly ScopeDefinition[], scopes: readonly string[]) {
  const byName = new Map(catalogue.map((d) => [d.name, d]));
  const unknown = scopes.filter((n) => !byName.has(n));
  const retired = scopes.filter((n) => byName.get(n)?.retired);
  return { unknown: [...new Set(unknown)], retired: [...new Set(retired)] };
}

export function assertGrantable(catalogue: readonly ScopeDefinition[], scopes: readonly string[]): void {
  const { unknown, retired } = ungrantable(catalogue, scopes);
  if (unknown.length) {
    throw new AppError(400, 'unknown_scopes', `Unknown scope(s): ${unknown.join(', ')}.`, {
      unknown_scopes: unknown,
    });
  }
  if (retired.length) {
    throw new AppError(
      400,
      'retired_scopes',
      `Retired scope(s) can no longer be granted: ${retired.join(', ')}.`,
      {
        retired_scopes: retired,
      },
    );
  }
}

/** An undefined workspace id would drop the condition and read every tenant's documents. */
function assertWorkspace(workspaceId: unknown): asserts workspaceId is string {
  if (typeof workspaceId !== 'string' || !workspaceId) throw httpErrors.notFound('workspace');
}

/**
 * How long a process reuses a workspace's cap overrides on the verification path (one store
 * read per verification saved). Changes made through this process apply at once; made through
 * another process, within this bound.
 */
export const CAPS_CACHE_MS = 2000;

export class ScopeCatalog {
  private readonly scopes: Collection<ScopeDoc>;
  private readonly presetDocs: Collection<PresetDoc>;
  /** Each workspace's own caps (null: cap removed), for CAPS_CACHE_MS; dropped on every change here. */
  private readonly capOverrides: Memo<Map<string, ScopeCap | null>>;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
  ) {
    this.scopes = storage.collection<ScopeDoc>(scopesSpec);
    this.presetDocs = storage.collection<PresetDoc>(presetsSpec);
    // Real time, not the injected clock: the bound is on changes made by other processes.
    this.capOverrides = new Memo({ now: () => new Date() }, CAPS_CACHE_MS, async (workspaceId) => {
      const caps = new Map<string, ScopeCap | null>();
      for (const d of await this.scopes.find({ workspaceId }))
        if (d.cap !== undefined) caps.set(d.name, d.cap);
      return caps;
    });
  }

  async list(workspaceId: string): Promise<ScopeDefinition[]> {
    assertWorkspace(workspaceId);
    return mergeCatalogue(await this.scopes.find({ workspaceId }));
  }

  async get(workspaceId: string, name: string): Promise<ScopeDefinition | null> {
    return (await this.list(workspaceId)).find((d) => d.name === name) ?? null;
  }

  /**
   * Caps of these scopes in this workspace (built-in defaults unless overridden). Answers at once
   * (no promise) while the workspace's caps are cached: key verification runs this per request.
   */
  capsFor(
    workspaceId: string,
    names: readonly string[],
  ): Map<string, ScopeCap> | Promise<Map<string, ScopeCap>> {
    assertWorkspace(workspaceId);
    return whenReady(this.capOverrides.now(workspaceId), (o) => capsOf(o, names));
  }

  /** Whether any scope of the workspace has a cap (a grant-all key holds them all); at once while cached. */
  anyCapped(workspaceId: string): boolean | Promise<boolean> {
    assertWorkspace(workspaceId);
    return whenReady(this.capOverrides.now(workspaceId), anyCapIn);
  }

  async addScope(workspaceId: string, input: z.input<typeof newScopeInput>): Promise<ScopeDefinition> {
    assertWorkspace(workspaceId);
    this.capOverrides.forget(workspaceId);
    const v = parseInput(newScopeInput, input);
    if (BUILTIN_BY_NAME.has(v.name))
      throw httpErrors.conflict(`${v.name} is a built-in scope.`, 'scope_exists');
    const now = this.clock.now();
    try {
      await this.scopes.insert({
        id: `${workspaceId}:${v.name}`,
        workspaceId,
        ...v,
        retired: false,
        createdAt: now,
        updatedAt: now,
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw httpErrors.conflict(`Scope ${v.name} already exists.`, 'scope_exists');
      throw err;
    }
    this.capOverrides.forget(workspaceId);
    return (await this.get(workspaceId, v.name))!;
  }

  async editScope(
    workspaceId: string,
    name: string,
    patch: z.input<typeof scopePatch>,
  ): Promise<ScopeDefinition> {
    return this.change(workspaceId, name, parseInput(scopePatch, patch));
  }

  async retireScope(workspaceId: string, name: string): Promise<ScopeDefinition> {
    return this.change(workspaceId, name, { retired: true });
  }

  async restoreScope(workspaceId: string, name: string): Promise<ScopeDefinition> {
    return this.change(workspaceId, name, { retired: false });
  }

  private async change(workspaceId: string, name: string, set: Partial<ScopeDoc>): Promise<ScopeDefinition> {
    assertWorkspace(workspaceId);
    this.capOverrides.forget(workspaceId);
    const now = this.clock.now();
    const id = `${workspaceId}:${name}`;
    const changed = await this.scopes.update({ id }, { set: { ...set, updatedAt: now } });
    if (!changed) {
      if (!BUILTIN_BY_NAME.has(name)) throw httpErrors.notFound('scope');
      // First change to a built-in scope: store an override document (racing writers retry once).
      try {
        await this.scopes.insert({
          id,
          workspaceId,
          name,
          retired: false,
          ...set,
          createdAt: now,
          updatedAt: now,
        });
      } catch (err) {
        if (!(err instanceof DuplicateKeyError)) throw err;
        await this.scopes.update({ id }, { set: { ...set, updatedAt: now } });
      }
    }
    this.capOverrides.forget(workspaceId); // again: a verification may have read the old caps meanwhile
    return (await this.get(workspaceId, name))!;
  }

  async presets(workspaceId: string): Promise<Preset[]> {
    assertWorkspace(workspaceId);
    const catalogue = await this.list(workspaceId);
    const custom = await this.presetDocs.find({ workspaceId }, { sort: { field: 'name', order: 'asc' } });
    return [
      ...BUILTIN_PRESETS.map((p) => ({
        ...p,
        scopes: this.builtinScopes(p, catalogue),
        source: 'builtin' as const,
      })),
      ...custom.map((d) => ({
        name: d.name,
        description: d.description,
        scopes: d.scopes,
        source: 'custom' as const,
      })),
    ];
  }

  private builtinScopes(p: Omit<Preset, 'source'>, catalogue: ScopeDefinition[]): string[] {
    return p.name === FULL_ACCESS ? catalogue.filter((d) => !d.retired).map((d) => d.name) : [...p.scopes];
  }

  /** The scopes a preset grants now; 400 `unknown_preset` when there is no such preset. */
  async resolvePreset(workspaceId: string, name: string): Promise<string[]> {
    const preset = (await this.presets(workspaceId)).find((p) => p.name === name);
    if (!preset) throw new AppError(400, 'unknown_preset', `Unknown preset ${JSON.stringify(name)}.`);
    return preset.scopes;
  }

  /** 400 unless every scope exists in the workspace's catalogue and is not retired. */
  async assertGrantable(workspaceId: string, scopes: readonly string[]): Promise<void> {
    assertGrantable(await this.list(workspaceId), scopes);
  }

  async createPreset(workspaceId: string, input: z.input<typeof newPresetInput>): Promise<Preset> {
    assertWorkspace(workspaceId);
    const v = parseInput(newPresetInput, input);
    if (BUILTIN_PRESETS.some((p) => p.name === v.name)) {
      throw httpErrors.conflict(`${v.name} is a built-in preset.`, 'preset_exists');
    }
    await this.assertGrantable(workspaceId, v.scopes);
    const now = this.clock.now();
    const scopes = [...new Set(v.scopes)];
    try {
      await this.presetDocs.insert({
        id: `${workspaceId}:${v.name}`,
        workspaceId,
        ...v,
        scopes,
        createdAt: now,
        updatedAt: now,
      });
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw httpErrors.conflict(`Preset ${v.name} already exists.`, 'preset_exists');
      throw err;
    }
    return { name: v.name, description: v.description, scopes, source: 'custom' };
  }

  async updatePreset(workspaceId: string, name: string, patch: z.input<typeof presetPatch>): Promise<Preset> {
    assertWorkspace(workspaceId);
    const v = parseInput(presetPatch, patch);
    if (v.scopes) await this.assertGrantable(workspaceId, v.scopes);
    const set = {
      ...v,
      ...(v.scopes ? { scopes: [...new Set(v.scopes)] } : {}),
      updatedAt: this.clock.now(),
    };
    const d = await this.presetDocs.update({ id: `${workspaceId}:${name}` }, { set });
    if (!d) throw httpErrors.notFound('preset');
    return { name: d.name, description: d.description, scopes: d.scopes, source: 'custom' };
  }

  async deletePreset(workspaceId: string, name: string): Promise<void> {
    assertWorkspace(workspaceId);
    if ((await this.presetDocs.delete({ id: `${workspaceId}:${name}` })) === 0)
      throw httpErrors.notFound('preset');
  }
}

function capsOf(overrides: Map<string, ScopeCap | null>, names: readonly string[]): Map<string, ScopeCap> {
  const out = new Map<string, ScopeCap>();
  for (const name of names) {
    const c = overrides.has(name) ? overrides.get(name) : BUILTIN_BY_NAME.get(name)?.cap;
    if (c) out.set(name, c);
  }
  return out;
}

function anyCapIn(overrides: Map<string, ScopeCap | null>): boolean {
  for (const c of overrides.values()) if (c) return true;
  return BUILTIN_SCOPES.some((b) => b.cap && !overrides.has(b.name));
}
