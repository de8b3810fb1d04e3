import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import { changeTag, FEED_OVERLAP_MS } from '../api-keys/feed.ts';
import { isWellFormed } from '../api-keys/format.ts';

/**
 * The resource-server side of Gatehouse, shared by the Koa and Express adapters: finds the
 * credential of a request, verifies API keys against Gatehouse (`POST /api/v1/keys/verify`) and
 * JWT access tokens against its JWKS (iss, aud, exp, typ), and caches positive key answers.
 *
 * How fast a revocation (or rotation, or scope removal) reaches this process: a cached answer is
 * used for at most `cacheTtlMs` (default 5 s), and the revocation feed polled every
 * `revocationPollMs` (default 1 s) drops entries of changed keys sooner, so the bound is
 * `min(cacheTtlMs, revocationPollMs + one feed round trip)` while the feed answers, `cacheTtlMs`
 * when it does not — plus, on MongoDB, the Gatehouse process's own record cache bound, which the
 * feed states (`record_cache_ms`): answers for a key the feed named are not cached until then. Keys with a rate limit or a scope cap, and requests with a cost, are never
 * answered from the cache (Gatehouse must count them). JWT access tokens are verified locally and
 * stay valid until their `exp`; keep their lifetime short where revocation must be fast. A JWT is
 * refused (401 invalid_token) where the request has a `cost`: credits are charged only through
 * Gatehouse, so such requests must present the API key itself.
 */
export interface VerifierOptions {
  /** Gatehouse's base URL (its issuer), e.g. `https://id.example.com`. */
  gatehouseUrl: string;
  /** How long a positive key answer is reused (ms, default 5000; 0 turns the cache off). */
  cacheTtlMs?: number;
  /** How often the revocation feed is polled (ms, default 1000; 0 turns polling off). */
  revocationPollMs?: number;
  /** Accepted `aud` of JWT access tokens (default `<gatehouseUrl>/api`); false: refuse JWTs. */
  audience?: string | string[] | false;
  /** Default `<gatehouseUrl>/jwks`. */
  jwksUri?: string;
  /** A workspace's own key header (e.g. `X-SPATIALGEN-APPKEY`), read besides Bearer and X-API-Key. */
  keyHeader?: string;
  /** Accept only keys (and access tokens) of this workspace. */
  workspaceId?: string;
  fetch?: typeof globalThis.fetch;
  /** At most this many cached answers (default 10000; the oldest go first). */
  maxEntries?: number;
}

export interface CheckOptions {
  /** Scopes the request needs (all of them). */
  scopes?: readonly string[];
  /** Credits the request costs (never cached). */
  cost?: number;
  /** The caller's address, recorded as the key's "last used from". */
  ip?: string;
}

/** Who called, once verified. */
export interface GatehousePrincipal {
  kind: 'api_key' | 'access_token';
  workspaceId: string | null;
  /** The key id, or the token's `client_id`. */
  clientId: string;
  /** The key id, or the token's subject. */
  subject: string;
  /** 'all' for a grant-all key. */
  scopes: string[] | 'all';
  /** Whether this answer came from the cache. */
  cached: boolean;
}

export type CheckResult =
  | { ok: true; principal: GatehousePrincipal }
  | {
      ok: false;
      status: 400 | 401 | 402 | 403 | 429 | 503;
      body: Record<string, unknown>;
      headers: Record<string, string>;
    };

type Headers = Record<string, string | string[] | undefined>;

interface Entry {
  keyId: string;
  tag: string;
  workspaceId: string;
  scopes: string[] | 'all';
  until: number;
}

/** How long a verify answer may have been on its way when the feed said its key changed. */
const IN_FLIGHT_MS = 1000;

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const WWW = (error: string, extra = '') => `Bearer realm="gatehouse", error="${error}"${extra}`;

function fail(
  status: 400 | 401 | 402 | 403 | 429 | 503,
  error: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): CheckResult {
  const h = status === 401 ? { 'WWW-Authenticate': WWW('invalid_token'), ...headers } : headers;
  return { ok: false, status, body: { error, message, ...extra }, headers: h };
}

function missingScopes(held: string[] | 'all', needed: readonly string[]): string[] {
  if (held === 'all') return [];
  return needed.filter((s) => !held.includes(s));
}

export class GatehouseVerifier {
  private readonly base: string;
  private readonly ttl: number;
  private readonly pollMs: number;
  private readonly maxEntries: number;
  private readonly fetch: typeof globalThis.fetch;
  private readonly cache = new Map<string, Entry>();
  private readonly byTag = new Map<string, Set<string>>();
  /**
   * Keys the feed named lately, until when their positive answers are not cached: a Gatehouse
   * process may still answer from its own record cache for `record_cache_ms` after the change
   * (MongoDB), and an answer may have been in flight when the feed was read.
   */
  private readonly unsettled = new Map<string, number>();
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | null;
  private readonly audience: string | string[] | false;
  private readonly keyHeader: string | undefined;
  private readonly workspaceId: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private since: number | undefined;
  private polling = false;

  constructor(o: VerifierOptions) {
    this.base = o.gatehouseUrl.replace(/\/+$/, '');
    this.ttl = o.cacheTtlMs ?? 5000;
    this.pollMs = o.revocationPollMs ?? 1000;
    this.maxEntries = o.maxEntries ?? 10_000;
    this.fetch = o.fetch ?? globalThis.fetch;
    this.audience = o.audience === undefined ? `${this.base}/api` : o.audience;
    this.jwks =
      this.audience === false ? null : createRemoteJWKSet(new URL(o.jwksUri ?? `${this.base}/jwks`));
    this.keyHeader = o.keyHeader?.toLowerCase();
    this.workspaceId = o.workspaceId;
  }

  /** Verifies the credential in these request headers. Never throws. */
  async check(headers: Headers, o: CheckOptions = {}): Promise<CheckResult> {
    this.startFeed();
    const found = this.credential(headers);
    if ('error' in found) return found.error;
    try {
      return found.kind === 'key' ? await this.checkKey(found.value, o) : await this.checkJwt(found.value, o);
    } catch {
      return fail(503, 'gatehouse_unavailable', 'The credential could not be verified right now; try again.');
    }
  }

  /** Stops the revocation feed poller. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Cached answers held now (tests, metrics). */
  get size(): number {
    return this.cache.size;
  }

  private credential(headers: Headers): { kind: 'key' | 'jwt'; value: string } | { error: CheckResult } {
    const found: { kind: 'key' | 'jwt'; value: string }[] = [];
    const authorization = headers.authorization;
    if (typeof authorization === 'string' && /^bearer(\s|$)/i.test(authorization)) {
      const m = BEARER.exec(authorization);
      if (!m)
        return { error: fail(401, 'invalid_token', 'The Authorization header is not "Bearer <token>".') };
      found.push({ kind: isWellFormed(m[1]) ? 'key' : 'jwt', value: m[1]! });
    }
    for (const name of ['x-api-key', this.keyHeader]) {
      if (!name || name === 'authorization') continue;
      const v = headers[name];
      if (Array.isArray(v)) return { error: fail(400, 'invalid_request', 'Send one credential only.') };
      if (v) found.push({ kind: 'key', value: v.trim() });
    }
    if (found.length > 1) return { error: fail(400, 'invalid_request', 'Send one credential only.') };
    if (!found.length)
      return { error: fail(401, 'unauthorized', 'Provide an API key via Authorization: Bearer <key>.') };
    return found[0]!;
  }

  private async checkKey(key: string, o: CheckOptions): Promise<CheckResult> {
    const scopes = o.scopes ?? [];
    const cost = o.cost ?? 0;
    // The cache is keyed by the key's digest: the process never keeps a key in clear.
    const digest = createHash('sha256').update(key).digest('base64url');
    if (cost === 0 && this.ttl > 0) {
      const hit = this.cache.get(digest);
      if (hit && hit.until > Date.now() && missingScopes(hit.scopes, scopes).length === 0) {
        return { ok: true, principal: principalOf(hit, true) };
      }
    }
    if (!isWellFormed(key)) return fail(401, 'key_invalid', 'Invalid API key.');
    const res = await this.fetch(`${this.base}/api/v1/keys/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        key,
        required_scopes: scopes,
        cost,
        ...(o.ip ? { ip: o.ip } : {}),
        ...(this.workspaceId ? { workspace_id: this.workspaceId } : {}),
      }),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return fail(503, 'gatehouse_unavailable', 'The key could not be verified right now; try again.');
    }
    const r = (await res.json()) as Record<string, unknown>;
    if (r.valid !== true) return refusal(r);
    const entry: Entry = {
      keyId: String(r.key_id),
      tag: changeTag(String(r.key_id)),
      workspaceId: String(r.workspace_id),
      scopes: r.grant_all === true ? 'all' : (r.scopes as string[]),
      until: Date.now() + this.ttl,
    };
    if (typeof r.expires_at === 'string') entry.until = Math.min(entry.until, Date.parse(r.expires_at));
    // Until the feed has answered once, nothing says what changed meanwhile: no caching yet.
    const feedReady = this.pollMs <= 0 || this.since !== undefined;
    if (cost === 0 && r.metered === false && this.ttl > 0 && feedReady && this.settled(entry.tag))
      this.remember(digest, entry);
    return { ok: true, principal: principalOf(entry, false) };
  }

  private remember(digest: string, entry: Entry): void {
    if (this.cache.size >= this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    this.cache.delete(digest);
    this.cache.set(digest, entry);
    const set = this.byTag.get(entry.tag) ?? new Set<string>();
    set.add(digest);
    this.byTag.set(entry.tag, set);
  }

  private settled(tag: string): boolean {
    const until = this.unsettled.get(tag);
    if (until === undefined) return true;
    if (until > Date.now()) return false;
    this.unsettled.delete(tag);
    return true;
  }

  private forget(digest: string): void {
    const e = this.cache.get(digest);
    this.cache.delete(digest);
    if (!e) return;
    const set = this.byTag.get(e.tag);
    set?.delete(digest);
    if (set && !set.size) this.byTag.delete(e.tag);
  }

  private clear(): void {
    this.cache.clear();
    this.byTag.clear();
  }

  private startFeed(): void {
    if (this.timer || this.pollMs <= 0 || this.ttl <= 0) return;
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
    void this.poll();
  }

  /** One read of the revocation feed; exported for tests through `pollNow`. */
  async pollNow(): Promise<void> {
    await this.poll();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const q = this.since === undefined ? '' : `?since=${Math.max(0, this.since - FEED_OVERLAP_MS)}`;
      const res = await this.fetch(`${this.base}/api/v1/keys/revocations${q}`);
      if (res.status === 400) {
        // Fell too far behind to know what changed: start over with an empty cache.
        await res.body?.cancel();
        this.clear();
        this.since = undefined;
        return;
      }
      if (!res.ok) {
        await res.body?.cancel();
        return;
      }
      const body = (await res.json()) as {
        changes: { tag: string }[];
        until: number;
        record_cache_ms?: number;
      };
      const now = Date.now();
      for (const [tag, until] of this.unsettled) if (until <= now) this.unsettled.delete(tag);
      const settleBy = now + Math.max(0, Number(body.record_cache_ms) || 0) + IN_FLIGHT_MS;
      for (const ch of body.changes) {
        for (const digest of [...(this.byTag.get(ch.tag) ?? [])]) this.forget(digest);
        this.unsettled.set(ch.tag, settleBy);
      }
      this.since = body.until;
    } catch {
      // Gatehouse unreachable: cached answers still expire by their TTL.
    } finally {
      this.polling = false;
    }
  }

  private async checkJwt(token: string, o: CheckOptions): Promise<CheckResult> {
    if (!this.jwks || this.audience === false)
      return fail(401, 'invalid_token', 'Access tokens are not accepted here.');
    // A token is verified here, offline: nothing would charge the credits (nor count the key's
    // rate limit). Requests that cost credits take the API key itself, verified by Gatehouse.
    if ((o.cost ?? 0) > 0)
      return fail(401, 'invalid_token', 'This request costs credits: present the API key itself.');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.base,
        audience: this.audience,
        typ: 'at+jwt',
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        return fail(401, 'token_expired', 'The access token has expired.');
      if (err instanceof joseErrors.JOSEError)
        return fail(401, 'invalid_token', 'The access token is not valid.');
      throw err;
    }
    if (this.workspaceId && payload.workspace_id !== this.workspaceId)
      return fail(401, 'invalid_token', 'The access token is not valid.');
    const held = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    const missing = missingScopes(held, o.scopes ?? []);
    if (missing.length) return insufficient(o.scopes ?? [], missing, 'access token');
    return {
      ok: true,
      principal: {
        kind: 'access_token',
        workspaceId: typeof payload.workspace_id === 'string' ? payload.workspace_id : null,
        clientId: String(payload.client_id ?? ''),
        subject: String(payload.sub ?? ''),
        scopes: held,
        cached: false,
      },
    };
  }
}

function principalOf(e: Entry, cached: boolean): GatehousePrincipal {
  return {
    kind: 'api_key',
    workspaceId: e.workspaceId,
    clientId: e.keyId,
    subject: e.keyId,
    scopes: e.scopes,
    cached,
  };
}

function insufficient(required: readonly string[], missing: string[], what: string): CheckResult {
  return fail(
    403,
    'insufficient_scope',
    `This ${what} lacks the scope(s): ${missing.join(', ')}.`,
    { required_scopes: required, missing_scopes: missing },
    { 'WWW-Authenticate': WWW('insufficient_scope', `, scope="${required.join(' ')}"`) },
  );
}

/** Gatehouse's refusal, as the resource server answers it (the same codes and fields). */
function refusal(r: Record<string, unknown>): CheckResult {
  const { valid: _v, status, error, message, key_id: _k, workspace_id: _w, ...extra } = r;
  const code = typeof status === 'number' ? status : 401;
  const headers: Record<string, string> = {};
  if (code === 429 && typeof extra.retry_after === 'number')
    headers['Retry-After'] = String(extra.retry_after);
  if (code === 403 && Array.isArray(extra.required_scopes))
    headers['WWW-Authenticate'] = WWW('insufficient_scope', `, scope="${extra.required_scopes.join(' ')}"`);
  return fail(
    ([401, 402, 403, 429].includes(code) ? code : 401) as 401 | 402 | 403 | 429,
    String(error ?? 'key_invalid'),
    String(message ?? 'Invalid API key.'),
    extra,
    headers,
  );
}
