import { type CheckOptions, type CheckResult, GatehouseVerifier, type VerifierOptions } from './verifier.ts';

/** For webhook receivers: checks `Gatehouse-Signature` over the raw body (src/webhooks/signature.ts). */
export { verifySignature } from '../webhooks/signature.ts';
/**
 * `import { requireKey } from 'gatehouse/middleware'`: protects routes of a Koa or an Express app
 * with Gatehouse API keys (Bearer, X-API-Key, or the workspace's own header) and JWT access
 * tokens. On success the caller is `ctx.state.gatehouse` (Koa) or `req.gatehouse` (Express); on
 * failure the answer follows Gatehouse's conventions (401 + WWW-Authenticate, 403 with
 * `required_scopes`, 402 with `credits_remaining`, 429 with Retry-After).
 *
 * ```ts
 * const auth = { gatehouseUrl: 'https://id.example.com' };
 * koaRouter.get('/videos', requireKey({ ...auth, scopes: ['videos:read'] }), listVideos);
 * expressApp.post('/render', requireKey({ ...auth, scopes: ['videos:write'], cost: 1 }), render);
 * ```
 *
 * Share one `GatehouseVerifier` (option `verifier`) between routes so that they share one cache
 * and one revocation-feed poller. The revocation bound is documented on `GatehouseVerifier`.
 */
export {
  type CheckOptions,
  type CheckResult,
  type GatehousePrincipal,
  GatehouseVerifier,
  type VerifierOptions,
} from './verifier.ts';

export interface RequireKeyOptions extends Partial<VerifierOptions>, Omit<CheckOptions, 'ip'> {
  /** A verifier to share; otherwise one is made from the options (then `gatehouseUrl` is required). */
  verifier?: GatehouseVerifier;
}

type HeaderBag = Record<string, string | string[] | undefined>;

/** The Koa context and Express request/response as far as the middleware uses them. */
interface KoaLike {
  headers: HeaderBag;
  ip: string;
  state: Record<string, unknown>;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
}
interface ExpressReq {
  headers: HeaderBag;
  ip?: string;
  gatehouse?: unknown;
}
interface ExpressRes {
  status(code: number): ExpressRes;
  set(field: string, value: string): ExpressRes;
  json(body: unknown): unknown;
}

type Middleware = {
  (ctx: KoaLike, next: () => Promise<unknown>): Promise<unknown>;
  (req: ExpressReq, res: ExpressRes, next: (err?: unknown) => void): Promise<unknown>;
};

function verifierOf(o: RequireKeyOptions): GatehouseVerifier {
  if (o.verifier) return o.verifier;
  if (!o.gatehouseUrl) throw new TypeError('requireKey: give gatehouseUrl (or a shared verifier)');
  return new GatehouseVerifier(o as VerifierOptions);
}

/** One middleware for both frameworks: Express calls it with three arguments, Koa with two. */
export function requireKey(options: RequireKeyOptions): Middleware {
  const verifier = verifierOf(options);
  const checkOptions = { scopes: options.scopes ?? [], cost: options.cost ?? 0 };
  const mw = async (
    a: KoaLike | ExpressReq,
    b: (() => Promise<unknown>) | ExpressRes,
    c?: (err?: unknown) => void,
  ) => {
    if (typeof c === 'function') return express(verifier, checkOptions, a as ExpressReq, b as ExpressRes, c);
    return koa(verifier, checkOptions, a as KoaLike, b as () => Promise<unknown>);
  };
  return mw as Middleware;
}

async function koa(v: GatehouseVerifier, o: CheckOptions, ctx: KoaLike, next: () => Promise<unknown>) {
  const r = await v.check(ctx.headers, { ...o, ip: ctx.ip });
  if (r.ok) {
    ctx.state.gatehouse = r.principal;
    return next();
  }
  for (const [k, val] of Object.entries(r.headers)) ctx.set(k, val);
  ctx.status = r.status;
  ctx.body = r.body;
}

async function express(
  v: GatehouseVerifier,
  o: CheckOptions,
  req: ExpressReq,
  res: ExpressRes,
  next: (err?: unknown) => void,
) {
  let r: CheckResult;
  try {
    r = await v.check(req.headers, { ...o, ...(req.ip ? { ip: req.ip } : {}) });
  } catch (err) {
    return next(err);
  }
  if (r.ok) {
    req.gatehouse = r.principal;
    return next();
  }
  for (const [k, val] of Object.entries(r.headers)) res.set(k, val);
  res.status(r.status).json(r.body);
}
