import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

/**
 * CSRF protection for the interaction forms: a signed double-submit token bound to the interaction.
 *
 * The browser holds a random nonce in an httpOnly, SameSite=Strict cookie scoped to
 * `/interaction/<uid>`; each form carries HMAC(key, uid | nonce). A POST is accepted only when the
 * submitted token equals the HMAC recomputed from the cookie's nonce and the uid in the URL, so a
 * token is useless in another browser (no nonce) and in another interaction (other uid), and a
 * cookie planted by a sibling subdomain is useless without the server key.
 */

const NONCE_BYTES = 16;
const NONCE = /^[A-Za-z0-9_-]{22}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
export const CSRF_COOKIE = 'gh.csrf';
export const CSRF_FIELD = 'csrf';

/** One HMAC key per configured secret (newest first), separated from other uses of the secrets by HKDF. */
export function deriveCsrfKeys(secrets: readonly string[]): Buffer[] {
  if (secrets.length === 0) throw new Error('CSRF protection needs at least one secret');
  return secrets.map((s) => Buffer.from(hkdfSync('sha256', s, 'gatehouse', 'interaction csrf v1', 32)));
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64url');
}

export function csrfToken(key: Buffer, uid: string, nonce: string): string {
  return createHmac('sha256', key).update(`${uid}|${nonce}`).digest('base64url');
}

/** Constant-time check against every key, so rotating the secrets does not break open forms. */
export function verifyCsrfToken(
  keys: readonly Buffer[],
  uid: string,
  nonce: unknown,
  submitted: unknown,
): boolean {
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) return false;
  if (typeof submitted !== 'string' || !TOKEN.test(submitted)) return false;
  const given = Buffer.from(submitted);
  let ok = false;
  for (const key of keys) {
    // No early exit: the time taken does not depend on which key matched.
    ok = timingSafeEqual(Buffer.from(csrfToken(key, uid, nonce)), given) || ok;
  }
  return ok;
}

/** The Koa side: sets/reads the nonce cookie and produces/checks tokens for one interaction uid. */
export class CsrfGuard {
  constructor(private readonly keys: readonly Buffer[]) {}

  /** The token for this interaction's forms; reuses the browser's nonce so that several tabs agree. */
  issue(ctx: Context, uid: string): string {
    let nonce = ctx.cookies.get(CSRF_COOKIE);
    if (!nonce || !NONCE.test(nonce)) {
      nonce = newNonce();
      ctx.cookies.set(CSRF_COOKIE, nonce, {
        path: `/interaction/${encodeURIComponent(uid)}`,
        httpOnly: true,
        sameSite: 'strict',
        // Secure whenever the browser reached us over https (directly or through a trusted proxy).
        secure: ctx.secure,
        overwrite: true,
      });
    }
    return csrfToken(this.keys[0]!, uid, nonce);
  }

  check(ctx: Context, uid: string, submitted: unknown): boolean {
    return verifyCsrfToken(this.keys, uid, ctx.cookies.get(CSRF_COOKIE), submitted);
  }
}
