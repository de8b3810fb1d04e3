import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { digestKey, digestsEqual, randomBase62 } from '../api-keys/hash.ts';
import { AppError, httpErrors } from '../http/errors.ts';
import {
  type Clock,
  type Collection,
  type CollectionSpec,
  DuplicateKeyError,
  type Filter,
  type Storage,
} from '../storage/index.ts';
import { type ClientView, type OAuthClientRecord, toClientView } from './model.ts';
import { type ClientPatchInput, clientPatchInput, type NewClientInput, newClientInput } from './schemas.ts';

export const CLIENTS: CollectionSpec = { name: 'oauth_clients', indexes: [{ fields: ['workspaceId'] }] };

export const CLIENT_ID_RE = /^cli_[0-9A-Za-z]{20}$/;

export interface IssuedClient {
  client: ClientView;
  /** The confidential client's secret: returned by create and rotate only, never stored. */
  secret: string | null;
}

export const clientErrors = {
  notFound: () => httpErrors.notFound('client'),
  invalid: (field: string, message: string) =>
    new AppError(400, 'invalid_request', `${field}: ${message}`, { field }),
  notConfidential: () =>
    new AppError(409, 'public_client', 'A public client has no secret to rotate.', { field: 'client_id' }),
  resourceTaken: (resource: string) =>
    new AppError(
      409,
      'resource_taken',
      `resources: ${resource} is already registered by a client of another workspace; a resource indicator belongs to one workspace.`,
      { field: 'resources' },
    ),
  reservedResource: (resource: string) =>
    clientErrors.invalid(
      'resources',
      `${resource} is Gatehouse's own API; every client may ask for it already, it cannot be registered as a custom resource`,
    ),
};

/** A resource indicator for comparison: origin lower-cased, trailing slashes of the path dropped. */
function resourceKey(value: string): string {
  try {
    const u = new URL(value);
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}${u.search}`;
  } catch {
    return value;
  }
}

/** Client secrets are kept like API keys: a SHA-256 digest (hex), compared in constant time. */
export const digestSecret = digestKey;

/** Constant-time: compares SHA-256 digests, so neither length nor content of the secret leaks. */
export function secretMatches(presented: unknown, digestHex: string | null): boolean {
  return typeof presented === 'string' && !!digestHex && digestsEqual(digestKey(presented), digestHex);
}

function newSecret(): string {
  return `gcs_${randomBytes(32).toString('base64url')}`;
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw clientErrors.invalid(issue.path.join('.') || 'body', issue.message);
}

type Shape = Pick<OAuthClientRecord, 'type' | 'grantTypes' | 'redirectUris' | 'authMethod'>;

/** The rules that span several fields; the first broken one is named. */
function checkShape(c: Shape): void {
  const grants = new Set(c.grantTypes);
  if (c.type === 'public' && grants.has('client_credentials'))
    throw clientErrors.invalid(
      'grant_types',
      'a public client cannot use client_credentials (it has no secret)',
    );
  if (grants.has('refresh_token') && !grants.has('authorization_code'))
    throw clientErrors.invalid('grant_types', 'refresh_token needs authorization_code');
  if (grants.has('authorization_code') && c.redirectUris.length === 0)
    throw clientErrors.invalid('redirect_uris', 'at least one redirect URI is needed for authorization_code');
  if (c.type === 'public' && grants.size === 0)
    throw clientErrors.invalid('grant_types', 'at least one grant type');
}

/**
 * The OAuth clients of workspaces. Every operation takes the workspace the client must belong
 * to; a client of another workspace is "not found". `find` (no workspace) is the provider's lookup.
 */
export class ClientService {
  private readonly docs: Collection<OAuthClientRecord>;
  /** Ends a deleted client's grants, codes and tokens (set by the OIDC core). */
  onDeleted: (clientId: string) => Promise<void> = async () => {};
  /** Told of every write to a client (updated, new secret, deleted): drops cached copies. */
  onChanged: (clientId: string) => void = () => {};

  /**
   * @param reservedResources resource indicators no client may register (Gatehouse's own API,
   *   `${issuer}/api`), nor anything under them.
   */
  constructor(
    storage: Storage,
    private readonly clock: Clock,
    private readonly workspaces: { get(id: string): Promise<{ id: string } | null> },
    private readonly reservedResources: readonly string[] = [],
  ) {
    this.docs = storage.collection<OAuthClientRecord>(CLIENTS);
  }

  /**
   * A resource indicator belongs to one workspace (the first to register it): otherwise another
   * workspace's client could mint tokens whose audience is this workspace's resource server.
   * Clients of the same workspace may share one.
   */
  private async checkResources(workspaceId: string, resources: readonly string[]): Promise<void> {
    for (const r of resources) {
      const key = resourceKey(r);
      for (const reserved of this.reservedResources.map(resourceKey)) {
        if (key === reserved || key.startsWith(`${reserved}/`) || key.startsWith(`${reserved}?`))
          throw clientErrors.reservedResource(r);
      }
    }
    const taken = await this.contested(workspaceId, resources);
    if (taken) throw clientErrors.resourceTaken(taken);
  }

  /**
   * The same check after the write: of two workspaces registering one resource at once, both see
   * each other here and both undo (each may retry; neither holds it alongside the other).
   */
  private async contested(workspaceId: string, resources: readonly string[]): Promise<string | undefined> {
    for (const r of resources) {
      // Both stores match a scalar against an array field by membership (as MongoDB does).
      const filter = {
        resources: r,
        workspaceId: { $ne: workspaceId },
      } as unknown as Filter<OAuthClientRecord>;
      if ((await this.docs.find(filter, { limit: 1 })).length) return r;
    }
    return undefined;
  }

  async create(workspaceId: string, input: NewClientInput): Promise<IssuedClient> {
    const v = parse(newClientInput, input);
    if (typeof workspaceId !== 'string' || !(await this.workspaces.get(workspaceId)))
      throw httpErrors.notFound('workspace');
    if (v.public && v.authMethod)
      throw clientErrors.invalid('token_endpoint_auth_method', 'a public client authenticates with none');
    const type = v.public ? 'public' : 'confidential';
    const authMethod = v.public ? null : (v.authMethod ?? 'client_secret_basic');
    checkShape({ type, grantTypes: v.grantTypes, redirectUris: v.redirectUris, authMethod });
    await this.checkResources(workspaceId, v.resources);
    const secret = v.public ? null : newSecret();
    const now = this.clock.now();
    for (let attempt = 0; ; attempt++) {
      const record: OAuthClientRecord = {
        id: `cli_${randomBase62(20)}`,
        workspaceId,
        name: v.name,
        type,
        redirectUris: v.redirectUris,
        postLogoutRedirectUris: v.postLogoutRedirectUris,
        grantTypes: v.grantTypes,
        authMethod,
        resources: v.resources,
        dpopBound: v.dpopBound,
        secretDigest: secret ? digestSecret(secret) : null,
        secretHint: secret ? secret.slice(-4) : null,
        createdAt: now,
        updatedAt: now,
        secretRotatedAt: null,
      };
      try {
        await this.docs.insert(record);
        const lost = await this.contested(workspaceId, record.resources);
        if (lost) {
          await this.docs.delete({ id: record.id });
          throw clientErrors.resourceTaken(lost);
        }
        return { client: toClientView(record), secret };
      } catch (err) {
        if (err instanceof DuplicateKeyError && attempt < 2) continue;
        throw err;
      }
    }
  }

  async list(workspaceId: string): Promise<ClientView[]> {
    if (typeof workspaceId !== 'string') throw httpErrors.notFound('workspace');
    const rows = await this.docs.find(
      { workspaceId },
      { sort: { field: 'createdAt', order: 'asc' }, limit: 500 },
    );
    return rows.map(toClientView);
  }

  async get(workspaceId: string, clientId: string): Promise<ClientView> {
    return toClientView(await this.record(workspaceId, clientId));
  }

  async update(workspaceId: string, clientId: string, patch: ClientPatchInput): Promise<ClientView> {
    const v = parse(clientPatchInput, patch);
    const current = await this.record(workspaceId, clientId);
    if (current.type === 'public' && v.authMethod)
      throw clientErrors.invalid('token_endpoint_auth_method', 'a public client authenticates with none');
    const next: Shape = {
      type: current.type,
      grantTypes: (v.grantTypes as OAuthClientRecord['grantTypes'] | undefined) ?? current.grantTypes,
      redirectUris: v.redirectUris ?? current.redirectUris,
      authMethod: v.authMethod ?? current.authMethod,
    };
    checkShape(next);
    if (v.resources !== undefined) await this.checkResources(workspaceId, v.resources);
    const set: Partial<OAuthClientRecord> = { ...next, updatedAt: this.clock.now() };
    if (v.name !== undefined) set.name = v.name;
    if (v.postLogoutRedirectUris !== undefined) set.postLogoutRedirectUris = v.postLogoutRedirectUris;
    if (v.resources !== undefined) set.resources = v.resources;
    if (v.dpopBound !== undefined) set.dpopBound = v.dpopBound;
    const updated = await this.docs.update({ id: clientId, workspaceId }, { set });
    if (!updated) throw clientErrors.notFound();
    this.onChanged(clientId);
    const lost = v.resources !== undefined ? await this.contested(workspaceId, v.resources) : undefined;
    if (lost) {
      await this.docs.update({ id: clientId, workspaceId }, { set: { resources: current.resources } });
      this.onChanged(clientId);
      throw clientErrors.resourceTaken(lost);
    }
    return toClientView(updated);
  }

  /** Deletes the client; `onDeleted` (the provider's revocation) ends its grants and tokens. */
  async delete(workspaceId: string, clientId: string): Promise<void> {
    await this.record(workspaceId, clientId);
    const n = await this.docs.delete({ id: clientId, workspaceId });
    if (!n) throw clientErrors.notFound();
    this.onChanged(clientId);
    await this.onDeleted(clientId);
  }

  /** A new secret; the old one stops working at once. */
  async rotateSecret(workspaceId: string, clientId: string): Promise<IssuedClient> {
    const current = await this.record(workspaceId, clientId);
    if (current.type !== 'confidential') throw clientErrors.notConfidential();
    const secret = newSecret();
    const now = this.clock.now();
    const updated = await this.docs.update(
      { id: clientId, workspaceId },
      {
        set: {
          secretDigest: digestSecret(secret),
          secretHint: secret.slice(-4),
          secretRotatedAt: now,
          updatedAt: now,
        },
      },
    );
    if (!updated) throw clientErrors.notFound();
    this.onChanged(clientId);
    return { client: toClientView(updated), secret };
  }

  /** The provider's lookup by client_id alone (any workspace). */
  async find(clientId: string): Promise<OAuthClientRecord | null> {
    if (!CLIENT_ID_RE.test(clientId)) return null;
    return this.docs.get(clientId);
  }

  private async record(workspaceId: string, clientId: string): Promise<OAuthClientRecord> {
    if (typeof workspaceId !== 'string' || typeof clientId !== 'string' || !CLIENT_ID_RE.test(clientId))
      throw clientErrors.notFound();
    const r = await this.docs.get(clientId);
    if (!r || r.workspaceId !== workspaceId) throw clientErrors.notFound();
    return r;
  }
}
