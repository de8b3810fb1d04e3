import { randomBytes } from 'node:crypto';

export const WEBHOOK_EVENT_TYPES = [
  'key.created',
  'key.updated',
  'key.rotated',
  'key.revoked',
  'key.expiring',
  'credits.low',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(v: unknown): v is WebhookEventType {
  return typeof v === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(v);
}

/** What a domain service hands to `emit`. `keyId` also reaches that key's own endpoint. */
export interface WebhookEvent {
  type: WebhookEventType;
  workspaceId: string;
  keyId?: string;
  /** Event-specific JSON; never a secret (a key's secret is shown once, to its creator only). */
  data: Record<string, unknown>;
  /** Defaults to the clock's now. */
  occurredAt?: Date;
}

/** The JSON body receivers get (snake_case, like the rest of the API). */
export interface WebhookPayload {
  id: string;
  type: WebhookEventType;
  created_at: string;
  workspace_id: string;
  key_id?: string;
  data: Record<string, unknown>;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/**
 * Ids that sort by time (zero-padded milliseconds, then randomness), so "newest first" with a
 * cursor is one indexed range on `id` in both stores.
 */
export function timeOrderedId(prefix: string, at: Date): string {
  const t = at.getTime();
  const ms = Number.isFinite(t) ? Math.max(0, Math.min(t, 99_999_999_999_999)) : 0;
  return `${prefix}_${String(ms).padStart(14, '0')}${randomBytes(8).toString('hex')}`;
}

export function buildPayload(event: WebhookEvent, id: string, at: Date): WebhookPayload {
  return {
    id,
    type: event.type,
    created_at: at.toISOString(),
    workspace_id: event.workspaceId,
    ...(event.keyId ? { key_id: event.keyId } : {}),
    data: event.data,
  };
}

/** What domain services depend on to raise webhooks ("keys", credits): resolves, never rejects. */
export type EmitWebhook = (event: WebhookEvent) => Promise<number>;
