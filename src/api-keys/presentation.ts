import { isWellFormed } from './format.ts';

/**
 * Where a request carries its credential: `Authorization: Bearer <key or JWT>`, `X-API-Key: <key>`,
 * or the workspace's own header (e.g. `X-SPATIALGEN-APPKEY`). A Bearer value that has the key
 * format (checksum included) is an API key; any other Bearer value is an access token. More than
 * one credential, or a repeated header, is refused as ambiguous (RFC 6750 §2: one method only).
 */
export type PresentedCredential =
  | { kind: 'none' }
  | { kind: 'api_key'; key: string; header: string }
  | { kind: 'bearer_token'; token: string }
  | { kind: 'ambiguous'; headers: string[] }
  | { kind: 'malformed'; header: string };

type Headers = Record<string, string | string[] | undefined>;

const BEARER_RE = /^Bearer[ ]+(\S+)[ ]*$/i;

export function presentedCredential(headers: Headers, customHeader?: string | null): PresentedCredential {
  const names = ['authorization', 'x-api-key'];
  const custom = customHeader?.toLowerCase();
  if (custom && !names.includes(custom)) names.push(custom);
  const found: { header: string; value: string | string[] }[] = [];
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined && value !== '') found.push({ header: name, value });
  }
  if (found.length === 0) return { kind: 'none' };
  if (found.length > 1) return { kind: 'ambiguous', headers: found.map((f) => f.header) };
  const { header, value } = found[0]!;
  if (Array.isArray(value))
    return value.length === 1
      ? presentedCredential({ [header]: value[0] }, customHeader)
      : { kind: 'ambiguous', headers: [header] };
  if (header === 'authorization') {
    const m = BEARER_RE.exec(value);
    if (!m) return { kind: 'malformed', header };
    return isWellFormed(m[1])
      ? { kind: 'api_key', key: m[1], header }
      : { kind: 'bearer_token', token: m[1]! };
  }
  const key = value.trim();
  return key ? { kind: 'api_key', key, header } : { kind: 'malformed', header };
}
