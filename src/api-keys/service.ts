import { httpErrors, parseInput } from '../http/errors.ts';
import { whenReady } from '../memo.ts';
import type { LabelledCounter, Metrics } from '../metrics.ts';
import { type Clock, DuplicateKeyError, type Storage } from '../storage/port.ts';
import { ScopeCatalog } from '../workspaces/scopes.ts';
import { CreditLedger } from './credits.ts';
import { keyErrors } from './errors.ts';
import { generateKey, isValidPrefix, parseKey } from './format.ts';
import { digestKey, KEY_ID_RE, keyHint, newKeyId } from './hash.ts';
import { type ApiKeyRecord, type ApiKeyView, statusOf, toView } from './model.ts';
import { KeyNotifier, type NotifyOptions } from './notify.ts';
import {
  assertCanManage,
  assertHoldsKey,
  assertIds,
  assertWithinCallerLimits,
  type Caller,
  grantedScopes,
} from './policy.ts';
import { WindowCounters } from './rate-limit.ts';
import { RecordCache } from './record-cache.ts';
import { ApiKeyRepository, type ListOptions, NO_EXPIRY_MS, type Page, sortKeyOf } from './repository.ts';
import {
  type CreateKeyInput,
  createKeyInput,
  listKeysInput,
  type RotateKeyInput,
  rotateKeyInput,
  TEMPORARY_KEY_LIFETIME_MS,
  type UpdateKeyInput,
  updateKeyInput,
  type VerifyKeyInput,
  verifyKeyInput,
} from './schemas.ts';
import { UsageTracker } from './usage.ts';
import {
  CLIENT_STEPS,
  INSPECT_STEPS,
  runVerification,
  TOKEN_USE_STEPS,
  type VerifyDeps,
  type VerifyRequest,
  type VerifyResult,
} from './verify.ts';

export type { Caller } from './policy.ts';

/** What the service needs of the workspace service. */
export interface WorkspaceLookup {
  get(id: string): Promise<{ id: string; settings: { keyPrefix: string } } | null>;
}

export interface ApiKeyServiceOptions extends NotifyOptions {
  storage: Storage;
  workspaces: WorkspaceLookup;
  /** Counts verifications by result (`gatehouse_api_key_verifications_total{result}`). */
  metrics?: Pick<Metrics, 'counter'>;
  /** How often coalesced "last used" writes go out (default 30 s). */
  usageFlushMs?: number;
  /** `credits.low` goes out when a charge takes the balance to this or below (default 10; 0 disables). */
  creditsLowThreshold?: number;
  /** Cache key records on the verification path this long (ms; default 0: off). See record-cache.ts. */
  recordCacheMs?: number;
}

/** How long an exact cache (the store's only writer) keeps a record it was not told to drop. */
const ONLY_WRITER_CACHE_MS = 60_000;

export interface IssuedKey {
  key: ApiKeyView;
  /** The full secret: returned by create and rotate only, never stored. */
  secret: string;
}

/**
 * API keys of workspaces: create (secret shown once), list, get, edit, revoke, rotate, verify.
 * Every operation on a key takes the workspace it must belong to; a key of another workspace
 * is "not found". Nobody grants a scope it does not hold. The rules live in policy.ts, the
 * verification steps in verify.ts, webhook events and audit entries in notify.ts; this class
 * keeps the operations' order and their conditional writes.
 */
export class ApiKeyService {
  readonly repo: ApiKeyRepository;
  readonly scopes: ScopeCatalog;
  readonly credits: CreditLedger;
  readonly counters: WindowCounters;
  readonly usage: UsageTracker;
  private readonly clock: Clock;
  private readonly notify: KeyNotifier;
  private readonly verifications: LabelledCounter | undefined;
  private readonly recordCache: RecordCache | undefined;
  /** What the verification steps read and count with; built once (verification is the hot path). */
  private readonly deps: VerifyDeps;

  constructor(private readonly o: ApiKeyServiceOptions) {
    this.clock = o.clock;
    this.notify = new KeyNotifier(o);
    this.verifications = o.metrics?.counter(
      'gatehouse_api_key_verifications_total',
      'API key verifications by result: valid, or the reason for refusing.',
      ['result'],
    );
    this.repo = new ApiKeyRepository(o.storage);
    this.scopes = new ScopeCatalog(o.storage, o.clock);
    this.credits = new CreditLedger(o.storage, o.clock);
    this.counters = new WindowCounters(o.storage, o.clock);
    // The embedded store has one writer, this process (it holds the store's lock): every change
    // to a key passes here and drops its cached record, so the cache is exact and always on.
    // On MongoDB other processes write too: bounded by recordCacheMs (default 1 s; 0: off).
    const ttl = o.recordCacheMs ?? 0;
    if (o.storage.kind === 'embedded') {
      this.recordCache = new RecordCache(this.repo, { ttlMs: ONLY_WRITER_CACHE_MS, now: () => Date.now() });
    } else if (ttl > 0) {
      this.recordCache = new RecordCache(this.repo, {
        ttlMs: ttl,
        now: () => Date.now(),
        others: {
          pollMs: Math.max(100, Math.min(500, Math.floor(ttl / 2))),
          changedSince: (since) => this.changedSince(since),
          onError: (err) => o.logger?.warn({ err: (err as Error).message }, 'could not poll API key changes'),
        },
      });
    }
    this.usage = new UsageTracker(
      (id, use) => this.repo.touch(id, use.at, use.ip),
      o.usageFlushMs ?? 30_000,
      (keyId, err) => o.logger?.warn({ keyId, err: (err as Error).message }, 'could not record API key use'),
    );
    const cache = this.recordCache;
    this.deps = {
      clock: this.clock,
      repo: {
        byDigest: cache
          ? (digest, now) => cache.lookUp(digest, now)
          : (digest, now) => this.repo.byDigest(digest, now),
        byId: (id) => this.repo.keys.get(id),
      },
      counters: this.counters,
      credits: this.credits,
      caps: (ws, names) => this.scopes.capsFor(ws, names),
      holdsCappedScope: (ws, names) => {
        if (names === 'all') return this.scopes.anyCapped(ws);
        return whenReady(this.scopes.capsFor(ws, names), (c) => c.size > 0);
      },
      usage: this.usage,
    };
  }

  async create(workspaceId: string, input: CreateKeyInput, caller: Caller): Promise<IssuedKey> {
    return this.notify.audited(
      'key.created',
      workspaceId,
      caller,
      (r) => r.key.id,
      () => this.createKey(workspaceId, input, caller),
    );
  }

  private async createKey(workspaceId: string, input: CreateKeyInput, caller: Caller): Promise<IssuedKey> {
    const v = parseInput(createKeyInput, input);
    if (typeof workspaceId !== 'string') throw httpErrors.notFound('workspace');
    const workspace = await this.o.workspaces.get(workspaceId);
    if (!workspace) throw httpErrors.notFound('workspace');
    const prefix = workspace.settings.keyPrefix;
    if (!isValidPrefix(prefix)) throw keyErrors.badPrefix(prefix);
    const now = this.clock.now();
    const scopes = await grantedScopes(this.scopes, workspaceId, v, caller, []);
    let expiresAt: Date | null = v.expiresAt ?? null;
    if (expiresAt && expiresAt <= now) throw keyErrors.expiryInPast();
    if (!expiresAt && v.temporary) expiresAt = new Date(now.getTime() + TEMPORARY_KEY_LIFETIME_MS);
    // A limited key cannot mint a less limited twin of itself.
    assertWithinCallerLimits(await this.callerKey(caller), { rateLimit: v.rateLimit ?? null, expiresAt });

    for (let attempt = 0; ; attempt++) {
      const { key: secret } = generateKey(prefix, v.environment);
      const id = newKeyId();
      const record: ApiKeyRecord = {
        id,
        workspaceId,
        name: v.name,
        environment: v.environment,
        prefix,
        digest: digestKey(secret),
        hint: keyHint(secret, parseKey(secret)!),
        previousDigest: null,
        previousDigestExpiresAt: null,
        scopes: scopes === 'all' ? [] : scopes,
        grantAll: scopes === 'all',
        temporary: v.temporary,
        expiresAt,
        expiresAtMs: expiresAt ? expiresAt.getTime() : NO_EXPIRY_MS,
        revokedAt: null,
        rateLimit: v.rateLimit ?? null,
        metadata: v.metadata,
        version: 1,
        sortKey: sortKeyOf(now, id),
        createdAt: now,
        updatedAt: now,
        rotatedAt: null,
        lastUsedAt: null,
        lastUsedIp: null,
      };
      try {
        await this.repo.insert(record);
      } catch (err) {
        // An id or digest collision is astronomically unlikely; draw again rather than fail.
        if (err instanceof DuplicateKeyError && attempt < 2) continue;
        throw err;
      }
      const view = toView(record, now);
      await this.notify.keyEvent('key.created', view);
      return { key: view, secret };
    }
  }

  async get(workspaceId: string, keyId: string): Promise<ApiKeyView> {
    assertIds(workspaceId, keyId);
    const record = await this.repo.get(workspaceId, keyId);
    if (!record) throw keyErrors.notFound();
    return this.view(record);
  }

  async list(workspaceId: string, options: ListOptions = {}): Promise<Page<ApiKeyView>> {
    if (typeof workspaceId !== 'string') throw httpErrors.notFound('workspace');
    const page = await this.repo.list(workspaceId, parseInput(listKeysInput, options), this.clock.now());
    return { data: page.data.map((r) => this.view(r)), nextCursor: page.nextCursor };
  }

  async update(
    workspaceId: string,
    keyId: string,
    patch: UpdateKeyInput,
    caller: Caller,
  ): Promise<ApiKeyView> {
    return this.notify.audited('key.updated', workspaceId, caller, keyId, () =>
      this.updateKey(workspaceId, keyId, patch, caller),
    );
  }

  private async updateKey(
    workspaceId: string,
    keyId: string,
    patch: UpdateKeyInput,
    caller: Caller,
  ): Promise<ApiKeyView> {
    assertIds(workspaceId, keyId);
    const v = parseInput(updateKeyInput, patch);
    const current = await this.repo.get(workspaceId, keyId);
    if (!current) throw keyErrors.notFound();
    if (current.revokedAt) throw keyErrors.revoked();
    // Editing a key (even narrowing it) takes all of its power; a key never loosens its own limits.
    assertCanManage(caller, current);
    assertWithinCallerLimits(await this.callerKey(caller), v);
    const now = this.clock.now();

    const rescoped = v.scopes !== undefined || v.preset !== undefined || v.grantAll !== undefined;
    let scopes: string[] | 'all' = current.grantAll ? 'all' : current.scopes;
    if (rescoped) {
      if (v.grantAll === false && v.scopes === undefined && v.preset === undefined)
        throw keyErrors.scopesRequired();
      scopes = await grantedScopes(
        this.scopes,
        workspaceId,
        v,
        caller,
        current.grantAll ? [] : current.scopes,
      );
    }
    // Whatever is edited, the key that results must not exceed the caller.
    assertHoldsKey(caller, { scopes });
    if (v.expiresAt && v.expiresAt <= now) throw keyErrors.expiryInPast();

    const set: Partial<ApiKeyRecord> = { updatedAt: now };
    if (v.name !== undefined) set.name = v.name;
    if (rescoped) {
      set.scopes = scopes === 'all' ? [] : scopes;
      set.grantAll = scopes === 'all';
    }
    if (v.expiresAt !== undefined) {
      set.expiresAt = v.expiresAt;
      set.expiresAtMs = v.expiresAt ? v.expiresAt.getTime() : NO_EXPIRY_MS;
    }
    if (v.rateLimit !== undefined) set.rateLimit = v.rateLimit;
    if (v.metadata !== undefined) set.metadata = v.metadata;
    const updated = await this.repo.update(workspaceId, keyId, { revokedAt: null }, { set });
    this.recordCache?.forget(keyId);
    if (!updated)
      throw (await this.repo.get(workspaceId, keyId)) ? keyErrors.revoked() : keyErrors.notFound();
    const view = this.view(updated);
    await this.notify.keyEvent('key.updated', view);
    return view;
  }

  /** Immediate: the next verification answers key_revoked. Revoking a revoked key answers it unchanged. */
  async revoke(workspaceId: string, keyId: string, caller: Caller = { scopes: 'all' }): Promise<ApiKeyView> {
    return this.notify.audited('key.revoked', workspaceId, caller, keyId, () =>
      this.revokeKey(workspaceId, keyId, caller),
    );
  }

  private async revokeKey(workspaceId: string, keyId: string, caller: Caller): Promise<ApiKeyView> {
    assertIds(workspaceId, keyId);
    const current = await this.repo.get(workspaceId, keyId);
    if (!current) throw keyErrors.notFound();
    // Revoking takes all of the key's power: a narrower key cannot switch off a wider one.
    assertCanManage(caller, current);
    const now = this.clock.now();
    const revoked = await this.repo.update(
      workspaceId,
      keyId,
      { revokedAt: null },
      { set: { revokedAt: now, updatedAt: now, previousDigest: null, previousDigestExpiresAt: null } },
    );
    this.recordCache?.forget(keyId);
    if (!revoked) {
      const existing = await this.repo.get(workspaceId, keyId);
      if (!existing) throw keyErrors.notFound();
      return this.view(existing);
    }
    const view = this.view(revoked);
    await this.notify.keyEvent('key.revoked', view);
    return view;
  }

  /**
   * A new secret for the same key. The old one stops working at once, or after `graceSeconds`.
   * The write is conditional on the version read, so of racing rotations exactly one wins (the
   * others get 409) and exactly one new secret is valid.
   */
  async rotate(
    workspaceId: string,
    keyId: string,
    input: RotateKeyInput,
    caller: Caller,
  ): Promise<IssuedKey> {
    return this.notify.audited('key.rotated', workspaceId, caller, keyId, () =>
      this.rotateKey(workspaceId, keyId, input, caller),
    );
  }

  private async rotateKey(
    workspaceId: string,
    keyId: string,
    input: RotateKeyInput,
    caller: Caller,
  ): Promise<IssuedKey> {
    assertIds(workspaceId, keyId);
    const v = parseInput(rotateKeyInput, input);
    const current = await this.repo.get(workspaceId, keyId);
    if (!current) throw keyErrors.notFound();
    const now = this.clock.now();
    const status = statusOf(current, now);
    if (status === 'revoked') throw keyErrors.revoked();
    if (status === 'expired') throw keyErrors.expired();
    // A new secret of a key is that key's power: the caller must hold all of it.
    assertCanManage(caller, current);

    const { key: secret } = generateKey(current.prefix, current.environment);
    const grace = v.graceSeconds > 0;
    const rotated = await this.repo.update(
      workspaceId,
      keyId,
      { version: current.version, revokedAt: null },
      {
        set: {
          digest: digestKey(secret),
          hint: keyHint(secret, parseKey(secret)!),
          previousDigest: grace ? current.digest : null,
          previousDigestExpiresAt: grace ? new Date(now.getTime() + v.graceSeconds * 1000) : null,
          rotatedAt: now,
          updatedAt: now,
        },
        inc: { version: 1 },
      },
    );
    this.recordCache?.forget(keyId);
    if (!rotated) throw keyErrors.rotationConflict();
    const view = this.view(rotated);
    await this.notify.keyEvent('key.rotated', view, { grace_seconds: v.graceSeconds });
    return { key: view, secret };
  }

  /** Valid, or the precise reason not; charges `cost` credits when valid. */
  async verify(input: VerifyKeyInput): Promise<VerifyResult> {
    return this.verifyRequest(parseInput(verifyKeyInput, input));
  }

  /** `verify` of a request already validated (the HTTP route's schema produces one). */
  async verifyRequest(v: VerifyRequest): Promise<VerifyResult> {
    const result = await runVerification(v, this.deps);
    this.verifications?.inc({ result: result.valid ? 'valid' : result.reason });
    const low = this.o.creditsLowThreshold ?? 10;
    if (result.valid && result.creditsRemaining !== null && v.cost > 0 && low > 0) {
      // Crossing the threshold with this charge, so each crossing is told once.
      if (result.creditsRemaining <= low && result.creditsRemaining + v.cost > low) {
        await this.notify.emit({
          type: 'credits.low',
          workspaceId: result.workspaceId,
          keyId: result.keyId,
          data: { credits_remaining: result.creditsRemaining, threshold: low },
        });
      }
    }
    return result;
  }

  /**
   * What a key is, without using it: valid (with its workspace and scopes) or why not, with no
   * rate-limit hit, no charge and no "last used" (RFC 7662 introspection, client authentication).
   */
  async inspect(key: string): Promise<VerifyResult> {
    if (typeof key !== 'string') return { valid: false, reason: 'key_invalid' };
    return runVerification({ key, requiredScopes: [], cost: 0 }, this.deps, INSPECT_STEPS, {
      recordUse: false,
    });
  }

  /**
   * A key authenticating as an OAuth client at `/token` (client_credentials): valid only if `secret`
   * is the key `keyId` and the key is active, and the mint counts one hit on the key's own rate
   * limit (refused with `rate_limited` once over it). No scope caps, no credits are charged.
   */
  async authenticateClient(keyId: string, secret: string): Promise<VerifyResult> {
    if (typeof keyId !== 'string' || typeof secret !== 'string' || secret.length > 200)
      return { valid: false, reason: 'key_invalid' };
    const result = await runVerification(
      { key: secret, keyId, requiredScopes: [], cost: 0 },
      this.deps,
      CLIENT_STEPS,
    );
    this.verifications?.inc({ result: result.valid ? 'valid' : result.reason });
    return result;
  }

  /**
   * One request made with a key's access token (a client_credentials JWT whose client is the key)
   * counts against the key's own rate limit: valid (with the window after this hit), or
   * `rate_limited` / `key_revoked` / `key_expired` / `key_invalid`. No charge.
   */
  async hitRateLimit(keyId: string, ip?: string | null): Promise<VerifyResult> {
    if (typeof keyId !== 'string' || !KEY_ID_RE.test(keyId)) return { valid: false, reason: 'key_invalid' };
    return runVerification(
      { key: '', keyId, requiredScopes: [], cost: 0, ip: ip ?? null },
      this.deps,
      TOKEN_USE_STEPS,
    );
  }

  /** Keys changed (revoked, rotated, edited) at or after `since`, oldest first: the revocation feed. */
  async changedSince(
    since: Date,
    limit = 500,
  ): Promise<{ changes: { id: string; updatedAt: Date }[]; complete: boolean; last: Date | null }> {
    const rows = await this.repo.keys.find(
      { updatedAt: { $gte: since } },
      { sort: { field: 'updatedAt', order: 'asc' }, limit },
    );
    // A key never changed since its creation narrows nothing a cache could hold: left out.
    const changes = rows
      .filter((r) => r.updatedAt.getTime() > r.createdAt.getTime())
      .map((r) => ({ id: r.id, updatedAt: r.updatedAt }));
    return { changes, complete: rows.length < limit, last: rows.at(-1)?.updatedAt ?? null };
  }

  /** Keys not revoked whose expiry falls in (from, to] (the webhooks' `key.expiring` scanner reads this). */
  async findExpiringBetween(from: Date, to: Date) {
    const rows = await this.repo.findExpiringBetween(from, to);
    return rows.map((r) => ({ id: r.id, workspaceId: r.workspaceId, expiresAt: r.expiresAt!, name: r.name }));
  }

  /** Writes the buffered "last used" now. */
  flush(): Promise<void> {
    return this.usage.flush();
  }

  /**
   * How long after a change made through another process this one may still answer from the
   * record it cached (0: never; the embedded store's cache is exact). The revocation feed states it.
   */
  get staleAtMostMs(): number {
    return this.recordCache?.staleAtMostMs ?? 0;
  }

  async close(): Promise<void> {
    this.recordCache?.close();
    await this.usage.close();
  }

  /** The limits of the calling key, when the caller is an API key (null otherwise). */
  private async callerKey(
    caller: Caller,
  ): Promise<{ rateLimit: ApiKeyRecord['rateLimit']; expiresAt: Date | null } | null> {
    if (caller.actor?.kind !== 'api_key') return null;
    const own = await this.repo.keys.get(caller.actor.id);
    // The key was verified for this very request; should it be gone since, refuse (fail closed).
    if (!own) throw httpErrors.unauthorized('Invalid API key.', 'key_invalid');
    return { rateLimit: own.rateLimit, expiresAt: own.expiresAt };
  }

  private view(record: ApiKeyRecord): ApiKeyView {
    const view = toView(record, this.clock.now());
    const pending = this.usage.pending(record.id);
    if (pending && (!view.lastUsedAt || pending.at > view.lastUsedAt)) {
      view.lastUsedAt = pending.at;
      view.lastUsedIp = pending.ip;
    }
    return view;
  }
}
