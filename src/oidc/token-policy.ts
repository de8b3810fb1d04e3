import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { clientWorkspaceId } from '../interactions/workspace.ts';
import { Memo } from '../memo.ts';
import type { Clock } from '../storage/index.ts';
import type { Workspace } from '../workspaces/model.ts';
import type { ScopeCatalog } from '../workspaces/scopes.ts';
import { CREDENTIAL_GENERATION_STATE } from './client-auth.ts';
import { CREDENTIAL_GENERATION_CLAIM } from './credentials.ts';
import { KEY_CLIENT_KIND, type KeyClients } from './key-clients.ts';
import { ACCESS_TOKEN_ALG, apiResource, FIXED_TTL, isOidcScope } from './resources.ts';

/**
 * What oidc-provider asks us per token: which resource servers exist and what they accept
 * (RFC 8707), how long tokens live (the workspace's settings), and the extra claims every token
 * carries (`workspace_id`, `gid`). Workspace settings and catalogues are memoised for a few
 * seconds; credentials are not.
 */
export interface TokenPolicyDeps {
  issuer: string;
  clock: Clock;
  workspaces: { get(id: string): Promise<Workspace | null> };
  catalogue: Pick<ScopeCatalog, 'list'>;
  keyClients: KeyClients;
  memoMs?: number;
}

interface ClientLike {
  clientId: string;
  gatehouse_kind?: string;
  resources?: string[];
}

/** A property our token service sets on tokens it mints (the login API's client spans workspaces). */
export const WORKSPACE_HINT = Symbol('gatehouse.workspaceId');
type Hinted = { [WORKSPACE_HINT]?: string };

/** Scopes a client may hold: as a list, a set, and the space-separated form the provider reads. */
interface Allowed {
  names: string[];
  has: Set<string>;
  joined: string;
}

function allowedOf(names: string[]): Allowed {
  return { names, has: new Set(names), joined: names.join(' ') };
}

export class TokenPolicy {
  readonly resource: string;
  private readonly settings: Memo<Workspace | null>;
  private readonly scopes: Memo<Allowed>;

  constructor(private readonly d: TokenPolicyDeps) {
    this.resource = apiResource(d.issuer);
    this.settings = new Memo(d.clock, d.memoMs ?? 5000, (id) => d.workspaces.get(id));
    this.scopes = new Memo(d.clock, d.memoMs ?? 5000, async (id) =>
      allowedOf((await d.catalogue.list(id)).filter((s) => !s.retired).map((s) => s.name)),
    );
  }

  workspace(id: string): Promise<Workspace | null> {
    return this.settings.get(id);
  }

  /**
   * The scopes a client may hold for a resource: an API key's own (read fresh), else the workspace
   * catalogue (memoised: no waiting once loaded).
   */
  private allowedScopes(client: ClientLike, workspaceId: string): Allowed | Promise<Allowed> {
    if (client.gatehouse_kind !== KEY_CLIENT_KIND) return this.scopes.now(workspaceId);
    return (async () => {
      const [catalogue, key] = await Promise.all([
        this.scopes.get(workspaceId),
        this.d.keyClients.record(client.clientId),
      ]);
      if (!key) throw new errors.InvalidClient('the API key is no longer active');
      return key.grantAll ? catalogue : allowedOf(key.scopes);
    })();
  }

  /** client_credentials defaults to Gatehouse's API (DECISIONS.md); other grants name their resource. */
  // The provider awaits these hooks; they answer without a promise when they need no I/O (the
  // common case: memoised workspace and catalogue), as every token request calls them.
  defaultResource = (ctx: KoaContextWithOIDC, _client: unknown, oneOf?: string): string | undefined => {
    if (oneOf) return oneOf;
    return ctx.oidc.params?.grant_type === 'client_credentials' ? this.resource : undefined;
  };

  getResourceServerInfo = (ctx: KoaContextWithOIDC, indicator: string, client: unknown) => {
    const c = client as ClientLike;
    const workspaceId = clientWorkspaceId(c);
    const own = Array.isArray(c.resources) && c.resources.includes(indicator);
    if (!workspaceId || (indicator !== this.resource && !own)) {
      throw new errors.InvalidTarget('this client may not ask for tokens for that resource');
    }
    const ws = this.settings.now(workspaceId);
    const allowed = this.allowedScopes(c, workspaceId);
    if (ws instanceof Promise || allowed instanceof Promise)
      return Promise.all([ws, allowed]).then(([w, a]) => this.resourceServer(ctx, c, indicator, w, a));
    return this.resourceServer(ctx, c, indicator, ws, allowed);
  };

  private resourceServer(
    ctx: KoaContextWithOIDC,
    c: ClientLike,
    indicator: string,
    ws: Workspace | null,
    allowed: Allowed,
  ) {
    if (!ws) throw new errors.InvalidTarget('the client’s workspace no longer exists');
    let scope = allowed.joined;
    const params = ctx.oidc.params;
    if (params?.grant_type === 'client_credentials') {
      const key = c.gatehouse_kind === KEY_CLIENT_KIND;
      // Without `scope`, a key's token carries all of the key's scopes. This runs before the grant
      // handler reads the requested scopes (lib/actions/grants/client_credentials.js).
      if (key && !params.scope) params.scope = allowed.joined;
      const requested = String(params.scope ?? '')
        .split(' ')
        .filter((s) => s && !isOidcScope(s));
      const granted = requested.filter((s) => allowed.has.has(s));
      // A key never gets more than it holds: asking for more is an error, not a silent narrowing.
      if (key && granted.length < requested.length) {
        const missing = requested.filter((s) => !allowed.has.has(s));
        throw new errors.InvalidScope('the API key does not hold the requested scope', missing.join(' '));
      }
      // The grant keeps the requested scopes this resource allows: name just those (the
      // handler splits this string on every request; a catalogue has dozens).
      scope = granted.join(' ');
    }
    return {
      scope,
      audience: indicator,
      accessTokenTTL: ws.settings.accessTokenTtl,
      accessTokenFormat: 'jwt' as const,
      jwt: { sign: { alg: ACCESS_TOKEN_ALG } },
    };
  }

  extraTokenClaims = (ctx: KoaContextWithOIDC | undefined, token: unknown): Record<string, string> => {
    const t = token as Hinted & { grantId?: string; client?: unknown };
    const client = t.client ?? ctx?.oidc?.client;
    const workspaceId = t[WORKSPACE_HINT] ?? (client ? clientWorkspaceId(client) : undefined);
    const claims: Record<string, string> = {};
    if (workspaceId) claims.workspace_id = workspaceId;
    if (t.grantId) claims.gid = t.grantId;
    // A grant-less token names the secret it was minted with (credentials.ts), so rotation ends it.
    const cgen = t.grantId
      ? undefined
      : (ctx?.state as Record<string, unknown> | undefined)?.[CREDENTIAL_GENERATION_STATE];
    if (typeof cgen === 'string') claims[CREDENTIAL_GENERATION_CLAIM] = cgen;
    return claims;
  };

  /** Loads the client's workspace onto the request, for the synchronous `ttl` functions below. */
  async stashWorkspace(ctx: KoaContextWithOIDC, client: unknown): Promise<void> {
    const ws = clientWorkspaceId(client as object);
    if (ws)
      (ctx.state as { gatehouseWorkspace?: Workspace | null }).gatehouseWorkspace = await this.workspace(ws);
  }

  /**
   * Refresh tokens live the workspace's `refresh_token_ttl` from the sign-in (iiat); rotation
   * hands the remaining time on, so the family's lifetime is the setting, as in the login API.
   */
  refreshTokenTtl = (ctx: KoaContextWithOIDC | undefined, token: { iiat?: number }): number => {
    const ws = (ctx?.state as { gatehouseWorkspace?: Workspace | null } | undefined)?.gatehouseWorkspace;
    const ttl = ws?.settings.refreshTokenTtl ?? FIXED_TTL.Session;
    const iiat = token.iiat ?? Math.floor(Date.now() / 1000);
    return Math.max(1, iiat + ttl - Math.floor(Date.now() / 1000));
  };

  accessTokenTtl = (
    ctx: KoaContextWithOIDC | undefined,
    token: { resourceServer?: { accessTokenTTL?: number } },
  ) => {
    const ws = (ctx?.state as { gatehouseWorkspace?: Workspace | null } | undefined)?.gatehouseWorkspace;
    return (
      token.resourceServer?.accessTokenTTL ?? ws?.settings.accessTokenTtl ?? FIXED_TTL.AccessTokenFallback
    );
  };
}
