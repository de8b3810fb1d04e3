import type { CollectionSpec } from '../storage/port.ts';
import type { WebhookEventType } from './events.ts';

/** Where an endpoint hangs: the whole workspace, or one API key (`/api/v1/keys/{id}/webhook`). */
export type EndpointTarget = { kind: 'workspace' } | { kind: 'key'; keyId: string };

export function scopeOf(target: EndpointTarget): string {
  return target.kind === 'workspace' ? 'workspace' : `key:${target.keyId}`;
}

/**
 * Every query of these services is scoped by workspace; a missing id would silently widen a
 * filter to all tenants (the port ignores undefined conditions), so it is a programming error.
 */
export function assertWorkspaceId(workspaceId: unknown): asserts workspaceId is string {
  if (typeof workspaceId !== 'string' || !workspaceId.length) throw new Error('workspaceId is required');
}

export interface WebhookEndpoint {
  id: string; // whe_...
  workspaceId: string;
  /** `workspace` or `key:<keyId>`; unique per workspace, so each target has at most one endpoint. */
  scope: string;
  keyId: string | null;
  url: string;
  events: WebhookEventType[];
  enabled: boolean;
  /** The signing secret, sealed by SecretBox (never stored or logged in clear). */
  secret: string;
  /** The secret replaced by the last rotation, still signing (a second v1) until the date below. */
  previousSecret?: string;
  previousSecretExpiresAt?: Date;
  createdAt: Date;
  updatedAt: Date;
}

export type DeliveryStatus = 'pending' | 'in_flight' | 'succeeded' | 'failed' | 'cancelled';

export interface DeliveryAttempt {
  n: number;
  at: Date;
  durationMs: number;
  statusCode?: number;
  error?: string;
  /** What the attempt led to: done, another try (at `retryAt`), or giving up. */
  result: 'succeeded' | 'retry' | 'failed';
  retryAt?: Date;
}

export interface WebhookDelivery {
  id: string; // dlv_<time-ordered>
  workspaceId: string;
  endpointId: string;
  scope: string;
  eventId: string;
  eventType: WebhookEventType;
  /** The exact JSON body, fixed at emit time: every attempt sends (and signs) the same bytes. */
  body: string;
  status: DeliveryStatus;
  /** Bumped by every change of state; a claim is won by inserting `<id>@<version>` (see delivery.ts). */
  version: number;
  nextAttemptAt: Date;
  lockedUntil?: Date;
  lockedBy?: string;
  attempts: DeliveryAttempt[];
  createdAt: Date;
  updatedAt: Date;
  completedAt?: Date;
  /** Set by a manual resend: that attempt is tried once, whatever maxAttempts says. */
  manualRetry?: boolean;
  /** Why it was cancelled or failed, or the last attempt's error. */
  lastError?: string;
  /** Retention of the delivery log. */
  expiresAt: Date;
}

/** Marks "this notice was already emitted" (key.expiring dedupe). */
export interface WebhookMarker {
  id: string;
  createdAt: Date;
  expiresAt: Date;
}

export const endpointsSpec: CollectionSpec = {
  name: 'webhook_endpoints',
  indexes: [{ fields: ['workspaceId', 'scope'], unique: true }, { fields: ['workspaceId'] }],
};

export const deliveriesSpec: CollectionSpec = {
  name: 'webhook_deliveries',
  indexes: [{ fields: ['status'] }, { fields: ['status', 'nextAttemptAt'] }, { fields: ['endpointId'] }],
  expiresField: 'expiresAt',
};

/** One document per won claim: a unique insert is atomic on every MongoDB-compatible server. */
export interface DeliveryClaim {
  id: string; // <deliveryId>@<version>
  createdAt: Date;
  expiresAt: Date;
}

export const claimsSpec: CollectionSpec = { name: 'webhook_claims', expiresField: 'expiresAt' };

export const markersSpec: CollectionSpec = { name: 'webhook_markers', expiresField: 'expiresAt' };
