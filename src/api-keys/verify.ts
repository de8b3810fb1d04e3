import { whenReady } from '../memo.ts';
import type { Clock } from '../storage/port.ts';
import type { ScopeCap } from '../workspaces/scopes.ts';
import type { CreditLedger } from './credits.ts';
import { type KeyEnvironment, parseKey } from './format.ts';
import { digestKey, digestsEqual } from './hash.ts';
import type { ApiKeyRecord } from './model.ts';
import type { WindowCounters } from './rate-limit.ts';
import type { ApiKeyRepository } from './repository.ts';
import type { UsageTracker } from './usage.ts';

/**
 * Key verification as a list of small named steps (parse → look up → status → expiry → scopes →
 * rate limit → credits). Each step either adds to the context or answers the precise reason the
 * key is refused; the first refusal wins. Rate limits count only requests that passed the scope
 * check, and credits are charged last, so a refused request never costs credits.
 */
export interface VerifyRequest {
  key: string;
  workspaceId?: string;
  requiredScopes: string[];
  cost: number;
  ip?: string | null;
  /** Client authentication: the key must be this one (its public id), or it is key_invalid. */
  keyId?: string;
}

export interface VerifySuccess {
  valid: true;
  keyId: string;
  workspaceId: string;
  name: string;
  environment: KeyEnvironment;
  /** 'all' for a grant-all key. */
  scopes: string[] | 'all';
  expiresAt: Date | null;
  /** The key's own rate-limit window after this request (null: the key has no limit). */
  rateLimit: { limit: number; remaining: number; resetAt: Date } | null;
  /** The workspace balance after the charge (null when the request carried no cost). */
  creditsRemaining: number | null;
  /**
   * The key has a rate limit or holds a capped scope (grant-all: the workspace has any capped
   * scope): a cache in front of Gatehouse (the middleware) must never answer for it.
   */
  metered: boolean;
}

type KeyRef = { keyId: string; workspaceId: string };
export type VerifyFailure =
  | { valid: false; reason: 'key_invalid' }
  | ({ valid: false; reason: 'key_revoked' | 'key_expired' } & KeyRef)
  | ({
      valid: false;
      reason: 'insufficient_scope';
      requiredScopes: string[];
      missingScopes: string[];
    } & KeyRef)
  | ({ valid: false; reason: 'rate_limited'; retryAfter: number; limit: number; scope?: string } & KeyRef)
  | ({ valid: false; reason: 'credits_exhausted'; creditsRemaining: number } & KeyRef);

export type VerifyResult = VerifySuccess | VerifyFailure;
export type FailureReason = VerifyFailure['reason'];

export interface VerifyDeps {
  clock: Clock;
  repo: Pick<ApiKeyRepository, 'byDigest'> & { byId?(id: string): Promise<ApiKeyRecord | null> };
  counters: WindowCounters;
  credits: CreditLedger;
  caps(
    workspaceId: string,
    scopes: readonly string[],
  ): Map<string, ScopeCap> | Promise<Map<string, ScopeCap>>;
  /**
   * Whether any scope the key holds has a cap ('all': any scope of the workspace's catalogue).
   * Such a key is `metered` whatever the request asks, so no cache answers for it.
   */
  holdsCappedScope(workspaceId: string, scopes: readonly string[] | 'all'): boolean | Promise<boolean>;
  usage: UsageTracker;
}

interface Context {
  req: VerifyRequest;
  now: Date;
  digest?: string;
  record?: ApiKeyRecord;
  rateLimit?: VerifySuccess['rateLimit'];
  creditsRemaining?: number | null;
  capped?: boolean;
}

/** A step answers at once when it needs no I/O (most do, most of the time): no promise to wait for. */
type Outcome = VerifyFailure | undefined;
type Step = (ctx: Context, deps: VerifyDeps) => Outcome | Promise<Outcome>;

const INVALID: VerifyFailure = { valid: false, reason: 'key_invalid' };
const ref = (r: ApiKeyRecord): KeyRef => ({ keyId: r.id, workspaceId: r.workspaceId });

/** Malformed keys and bad checksums are refused offline, without a store round trip. */
const parse: Step = (ctx) => {
  if (!parseKey(ctx.req.key)) return INVALID;
  ctx.digest = digestKey(ctx.req.key);
};

/** By digest (the current secret, or the previous one inside its grace period), in the asked workspace only. */
const lookUp: Step = async (ctx, deps) => {
  const found = await deps.repo.byDigest(ctx.digest!, ctx.now);
  if (!found) return INVALID;
  const { record, previous } = found;
  const stored = previous ? record.previousDigest : record.digest;
  // The store matched on equality already; compare again in constant time rather than trust it.
  if (!stored || !digestsEqual(stored, ctx.digest!)) return INVALID;
  if (previous && !(record.previousDigestExpiresAt && record.previousDigestExpiresAt > ctx.now))
    return INVALID;
  // Another workspace's key does not exist here: same answer as an unknown key.
  if (ctx.req.workspaceId !== undefined && record.workspaceId !== ctx.req.workspaceId) return INVALID;
  ctx.record = record;
};

const checkStatus: Step = (ctx) => {
  if (ctx.record!.revokedAt) return { valid: false, reason: 'key_revoked', ...ref(ctx.record!) };
};

const checkExpiry: Step = (ctx) => {
  const r = ctx.record!;
  if (r.expiresAt && r.expiresAt.getTime() <= ctx.now.getTime())
    return { valid: false, reason: 'key_expired', ...ref(r) };
};

/** Read from the record on every call, so an edit takes effect on the very next request. */
const checkScopes: Step = (ctx) => {
  const r = ctx.record!;
  if (r.grantAll) return;
  const held = new Set(r.scopes);
  const required = [...new Set(ctx.req.requiredScopes)];
  const missing = required.filter((s) => !held.has(s));
  if (missing.length) {
    return {
      valid: false,
      reason: 'insufficient_scope',
      requiredScopes: required,
      missingScopes: missing,
      ...ref(r),
    };
  }
};

/** Client authentication (`/token`): the secret presented must be the key named as the client. */
const matchClient: Step = (ctx) => {
  if (ctx.req.keyId === undefined || ctx.record!.id !== ctx.req.keyId) return INVALID;
};

/** The key's own limit. */
const checkKeyLimit: Step = (ctx, deps) => {
  ctx.rateLimit = null;
  return ctx.record!.rateLimit ? countKeyHit(ctx, deps) : undefined;
};

async function countKeyHit(ctx: Context, deps: VerifyDeps): Promise<Outcome> {
  const r = ctx.record!;
  const limit = r.rateLimit!;
  const w = await deps.counters.hit(`key:${r.id}`, limit.requests, limit.windowSeconds);
  if (!w.allowed)
    return { valid: false, reason: 'rate_limited', retryAfter: w.retryAfter, limit: w.limit, ...ref(r) };
  ctx.rateLimit = { limit: w.limit, remaining: w.remaining, resetAt: w.resetAt };
}

/** Then the caps of the scopes asked for (guardrails that bind grant-all keys too). */
const checkCaps: Step = (ctx, deps) =>
  whenReady(deps.caps(ctx.record!.workspaceId, ctx.req.requiredScopes), (c) => applyCaps(ctx, deps, c));

function applyCaps(ctx: Context, deps: VerifyDeps, caps: Map<string, ScopeCap>): Outcome | Promise<Outcome> {
  const r = ctx.record!;
  if (caps.size > 0) {
    ctx.capped = true;
    return countCapHits(ctx, deps, caps);
  }
  // Capped if the key holds any capped scope, not only one asked for now: otherwise a check for an
  // uncapped scope would let a cache answer later checks of a capped one without counting them.
  // (A key with a rate limit of its own is metered anyway.)
  if (ctx.rateLimit) {
    ctx.capped = false;
    return;
  }
  return whenReady(deps.holdsCappedScope(r.workspaceId, r.grantAll ? 'all' : r.scopes), (held) => {
    ctx.capped = held;
    return undefined;
  });
}

async function countCapHits(ctx: Context, deps: VerifyDeps, caps: Map<string, ScopeCap>): Promise<Outcome> {
  const r = ctx.record!;
  for (const [scope, cap] of caps) {
    const w = await deps.counters.hit(`cap:${r.id}:${scope}`, cap.limit, cap.windowSeconds);
    if (!w.allowed) {
      return {
        valid: false,
        reason: 'rate_limited',
        retryAfter: w.retryAfter,
        limit: w.limit,
        scope,
        ...ref(r),
      };
    }
  }
}

const chargeCredits: Step = (ctx, deps) => {
  ctx.creditsRemaining = null;
  return ctx.req.cost > 0 ? charge(ctx, deps) : undefined;
};

async function charge(ctx: Context, deps: VerifyDeps): Promise<Outcome> {
  const r = ctx.record!;
  const charged = await deps.credits.charge(r.workspaceId, ctx.req.cost);
  if (!charged.ok)
    return { valid: false, reason: 'credits_exhausted', creditsRemaining: charged.remaining, ...ref(r) };
  ctx.creditsRemaining = charged.remaining;
}

export const VERIFY_STEPS: readonly (readonly [name: string, step: Step])[] = [
  ['parse', parse],
  ['look_up', lookUp],
  ['status', checkStatus],
  ['expiry', checkExpiry],
  ['scopes', checkScopes],
  ['rate_limit', checkKeyLimit],
  ['caps', checkCaps],
  ['credits', chargeCredits],
];

/** Only what the key is (introspection, revocation checks): no rate-limit hit, no charge, no "last used". */
export const INSPECT_STEPS = VERIFY_STEPS.slice(0, 4);

/**
 * A key authenticating as an OAuth client (minting a token at `/token`): what the key is, that it
 * is the client named, and one hit on its own rate limit. No scope caps, no charge.
 */
export const CLIENT_STEPS: typeof VERIFY_STEPS = [
  ...INSPECT_STEPS,
  ['client', matchClient],
  ['rate_limit', checkKeyLimit],
];

/** By key id rather than secret (a request carrying the key's access token): status, expiry, own limit. */
const lookUpById: Step = async (ctx, deps) => {
  const record = ctx.req.keyId !== undefined ? await deps.repo.byId?.(ctx.req.keyId) : null;
  if (!record) return INVALID;
  ctx.record = record;
};

export const TOKEN_USE_STEPS: typeof VERIFY_STEPS = [
  ['look_up', lookUpById],
  ['status', checkStatus],
  ['expiry', checkExpiry],
  ['rate_limit', checkKeyLimit],
];

export async function runVerification(
  req: VerifyRequest,
  deps: VerifyDeps,
  steps: typeof VERIFY_STEPS = VERIFY_STEPS,
  options: { recordUse?: boolean } = {},
): Promise<VerifyResult> {
  const ctx: Context = { req, now: deps.clock.now() };
  let failure: VerifyFailure | undefined;
  for (const [, step] of steps) {
    const outcome = step(ctx, deps);
    failure = outcome instanceof Promise ? await outcome : outcome;
    if (failure) break;
  }
  const r = ctx.record;
  // A live key was presented (even if refused for scope, rate or credits): note the use, coalesced.
  if (
    options.recordUse !== false &&
    r &&
    (!failure || !['key_revoked', 'key_expired', 'key_invalid'].includes(failure.reason))
  ) {
    deps.usage.record(r.id, { at: ctx.now, ip: req.ip ?? null });
  }
  if (failure) return failure;
  return {
    valid: true,
    keyId: r!.id,
    workspaceId: r!.workspaceId,
    name: r!.name,
    environment: r!.environment,
    scopes: r!.grantAll ? 'all' : r!.scopes,
    expiresAt: r!.expiresAt,
    rateLimit: ctx.rateLimit ?? null,
    creditsRemaining: ctx.creditsRemaining ?? null,
    metered: Boolean(ctx.rateLimit) || Boolean(ctx.capped),
  };
}
