import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import type { Context, Middleware, Next } from 'koa';
import { type AuthDeps, tokenPrincipal, usePrincipal, type VerifiedAccessToken } from '../http/auth.ts';
import { AppError } from '../http/errors.ts';
import { type Clock, type Collection, DuplicateKeyError } from '../storage/index.ts';

/** How far a proof's iat may be from now, in seconds; seen proofs are kept twice as long (replay, §11.1). */
const DPOP_IAT_WINDOW = 60;

export interface DpopPresentation {
  /** The DPoP header's proof JWT. */
  proof: string;
  /** The request's method and its URL as the client addressed it (query and fragment are ignored). */
  method: string;
  url: string;
}

export interface DpopDeps {
  proofs: Collection<{ id: string; expiresAt: Date }>;
  clock: Clock;
  refuse(why: string): Error;
}

const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

/**
 * A DPoP proof for a resource request (RFC 9449 §4.3, §7.1): typ dpop+jwt, an asymmetric
 * signature by the embedded public key, htm/htu of this request, a fresh iat, `ath` of this
 * access token, the key's thumbprint equal to the token's `cnf.jkt`, and a jti never seen before.
 */
export async function verifyDpopProof(
  d: DpopDeps,
  dpop: DpopPresentation,
  accessToken: string,
  jkt: string,
): Promise<void> {
  const bad = d.refuse;
  let proof: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    proof = await jwtVerify(dpop.proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
      currentDate: d.clock.now(),
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
    });
  } catch {
    throw bad('signature, type or claims');
  }
  const p = proof.payload as { jti: string; htm: string; htu: string; iat: number; ath?: string };
  const strip = (u: string) => {
    try {
      const url = new URL(u);
      return `${url.origin}${url.pathname}`;
    } catch {
      return undefined;
    }
  };
  if (p.htm !== dpop.method.toUpperCase()) throw bad('htm is not this request’s method');
  if (!strip(p.htu) || strip(p.htu) !== strip(dpop.url)) throw bad('htu is not this request’s URL');
  const now = epoch(d.clock.now());
  if (Math.abs(now - p.iat) > DPOP_IAT_WINDOW) throw bad('iat is not recent');
  const ath = createHash('sha256').update(accessToken).digest('base64url');
  if (p.ath !== ath) throw bad('ath does not match the access token');
  if ((await calculateJwkThumbprint(proof.protectedHeader.jwk as JWK)) !== jkt)
    throw bad('it is signed by another key than the token is bound to');
  try {
    await d.proofs.insert({
      id: createHash('sha256').update(`${jkt}:${p.jti}`).digest('base64url'),
      expiresAt: new Date((now + 2 * DPOP_IAT_WINDOW) * 1000),
    });
  } catch (err) {
    if (err instanceof DuplicateKeyError) throw bad('it was used before');
    throw err;
  }
}

/**
 * `Authorization: DPoP <token>` with a `DPoP: <proof>` header on /api/v1 (RFC 9449 §7.1): the
 * token and the proof are checked by the token service, and the caller becomes the token's
 * user, as `authenticate` (src/http/auth.ts) does for Bearer tokens, which it leaves to run after
 * this and which does not look at the DPoP scheme. Failures are 401 with `WWW-Authenticate: DPoP`.
 */
export function dpopAuthentication(
  c: Pick<AuthDeps, 'apiKeys' | 'audit'> & {
    config: { issuer: string };
    tokens: {
      verifyDpopAccessToken(jwt: string, dpop: DpopPresentation): Promise<VerifiedAccessToken>;
    };
  },
): Middleware {
  return async (ctx: Context, next: Next) => {
    const authorization = ctx.get('authorization');
    if (!ctx.path.startsWith('/api/v1/') || !/^dpop\s/i.test(authorization)) return next();
    const challenge = (description: string) =>
      new AppError(
        401,
        'invalid_token',
        description,
        {},
        {
          'WWW-Authenticate': `DPoP realm="gatehouse", error="invalid_token", algs="ES256 ES384 RS256 PS256 EdDSA"`,
        },
      );
    const match = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
    const proof = ctx.get('dpop');
    if (!match || !proof || proof.includes(','))
      throw challenge('Send "Authorization: DPoP <token>" with exactly one DPoP proof header.');
    if (ctx.get('x-api-key'))
      throw new AppError(
        400,
        'invalid_request',
        'Send one credential only: an Authorization header or X-API-Key.',
      );
    try {
      const token = await c.tokens.verifyDpopAccessToken(match[1]!, {
        proof,
        method: ctx.method,
        url: `${c.config.issuer}${ctx.path}`,
      });
      ctx.state.principal = await usePrincipal(c, ctx, tokenPrincipal(token));
    } catch (err) {
      if (err instanceof AppError && err.status === 401) throw challenge(err.message);
      throw err;
    }
    return next();
  };
}
