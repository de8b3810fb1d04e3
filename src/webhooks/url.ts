import { isIP } from 'node:net';

export interface UrlPolicy {
  /**
   * Development and tests: allow plain http and loopback/link-local hosts (a receiver on
   * 127.0.0.1). Production passes false: https only, and no loopback or link-local targets.
   */
  allowInsecure: boolean;
}

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * SSRF hygiene for endpoint URLs, checked when an endpoint is saved and again before each POST:
 * only http(s), no credentials, and in production https to a host that is not this machine or
 * the cloud metadata range. (A name that resolves to such an address later is not caught here;
 * deliveries also never follow redirects.)
 */
export function checkEndpointUrl(input: string, policy: UrlPolicy): UrlCheck {
  if (typeof input !== 'string' || !input.length) return { ok: false, reason: 'a URL is required' };
  if (input.length > 2048) return { ok: false, reason: 'the URL is longer than 2048 characters' };
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: 'not an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, reason: 'only https:// URLs are accepted' };
  }
  if (url.username || url.password) return { ok: false, reason: 'URLs must not carry credentials' };
  if (url.hash) return { ok: false, reason: 'URLs must not carry a #fragment' };
  if (!policy.allowInsecure) {
    if (url.protocol !== 'https:')
      return { ok: false, reason: 'only https:// URLs are accepted in production' };
    if (isLocalHost(url.hostname)) {
      return { ok: false, reason: 'loopback and link-local addresses are refused in production' };
    }
  }
  return { ok: true, url: url.toString() };
}

function isLocalHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const kind = isIP(host);
  if (kind === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    return a === 127 || a === 0 || (a === 169 && b === 254);
  }
  if (kind === 6) {
    if (host === '::1' || host === '::') return true;
    if (/^fe[89ab][0-9a-f]:/.test(host)) return true;
    // IPv4-mapped: the URL parser normalises ::ffff:127.0.0.1 to ::ffff:7f00:1
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
    if (mapped) {
      const hi = Number.parseInt(mapped[1]!, 16);
      const a = hi >> 8;
      const b = hi & 0xff;
      return a === 127 || a === 0 || (a === 169 && b === 254);
    }
  }
  return false;
}
