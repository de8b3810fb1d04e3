import { isIP } from 'node:net';
import { isPublicAddress } from './address.ts';

export interface UrlPolicy {
  /**
   * Development and tests: allow plain http and any host (a receiver on 127.0.0.1). Production
   * passes false: https only, and public hosts only.
   */
  allowInsecure: boolean;
}

export type UrlCheck = { ok: true; url: string } | { ok: false; reason: string };

/**
 * SSRF hygiene for endpoint URLs, checked when an endpoint is saved and again before each POST:
 * only http(s), no credentials, and in production https to a public host: `localhost` names and
 * IP literals that are not public unicast (see address.ts) are refused. A name is checked where
 * it matters, when the delivery connects: every address it resolves to must be public and the
 * connection goes to the address checked (guarded-fetch.ts), so DNS rebinding cannot get around
 * it. Deliveries never follow redirects.
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
    if (!isPublicHost(url.hostname)) {
      return {
        ok: false,
        reason: 'private, loopback, link-local and other non-public addresses are refused in production',
      };
    }
  }
  return { ok: true, url: url.toString() };
}

/** A name (checked again at connect time), or a public unicast IP literal. */
function isPublicHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (!host || host === 'localhost' || host.endsWith('.localhost')) return false;
  if (isIP(host)) return isPublicAddress(host);
  return true;
}
