/**
 * Security headers of every HTML page we render (sign-in, consent, logout, errors). The pages run
 * no script at all, load only our own stylesheet, and may not be framed (clickjacking on a consent
 * button is the classic attack).
 *
 * `form-action` needs the relying party's origin: browsers apply it to the redirects that follow a
 * form submission (sign-in → /auth/:uid → the client's redirect_uri), so 'self' alone would block
 * the final hop.
 */
export function pageSecurityHeaders(
  redirectTargets: readonly (string | undefined)[] = [],
): Record<string, string> {
  const formAction = ["'self'", ...new Set(redirectTargets.map(cspSource).filter((s): s is string => !!s))];
  const csp = [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    `form-action ${formAction.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return {
    'Content-Security-Policy': csp,
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    // Interaction URLs carry the interaction id; do not hand it to other sites.
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}

/** A CSP source expression for a redirect URI: its origin, or its scheme for app schemes (com.example.app:/cb). */
export function cspSource(uri: string | undefined): string | undefined {
  if (!uri) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return url.origin;
  // Scheme-only sources; refuse schemes that could smuggle content (javascript:, data:, ...).
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) &&
    !/^(javascript|data|blob|filesystem|about):$/i.test(url.protocol)
    ? url.protocol
    : undefined;
}
