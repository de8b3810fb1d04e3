import { createHash } from 'node:crypto';

/**
 * The revocation feed (`GET /api/v1/keys/revocations`) names changed keys by an opaque tag, not
 * by id: resource servers that cached a verification (which told them the key id) can match it,
 * while the public feed lists no workspace's key ids. Shared by the route and the middleware.
 */
export function changeTag(keyId: string): string {
  return createHash('sha256').update(`gatehouse-key-change:${keyId}`).digest('base64url').slice(0, 22);
}

/** How far back a feed read may reach; a reader that fell further behind drops its whole cache. */
export const FEED_MAX_LOOKBACK_MS = 10 * 60_000;
/** Readers ask again from a little before the last answer's `until`: writes land late, duplicates are harmless. */
export const FEED_OVERLAP_MS = 2_000;
