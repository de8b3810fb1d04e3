/**
 * Redirect URIs a client may register: https anywhere, plain http only to a loopback address
 * (RFC 8252 §7.3, native apps), never a fragment (RFC 6749 §3.1.2) and never credentials in the
 * URL. Returns why a URI is refused, or undefined when it is fine. Pure.
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

export function redirectUriProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash || value.includes('#')) return 'must not contain a fragment (#...)';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname)
      ? undefined
      : 'must use https (plain http only on a loopback address)';
  }
  return 'must use https (plain http only on a loopback address)';
}

/** Resource indicators (RFC 8707 §2): absolute URIs without a fragment; https unless loopback. */
export function resourceProblem(value: string): string | undefined {
  return redirectUriProblem(value);
}
