import { z } from 'zod';
import { AppError, httpErrors } from '../http/errors.ts';
import type { Logger } from '../logger.ts';
import { type Clock, DuplicateKeyError, type Filter, type Storage } from '../storage/port.ts';
import { newId, WEBHOOK_EVENT_TYPES, type WebhookEventType } from './events.ts';
import {
  assertWorkspaceId,
  type DeliveryAttempt,
  type DeliveryStatus,
  type EndpointTarget,
  scopeOf as scopeOfTarget,
  type WebhookDelivery,
  type WebhookEndpoint,
} from './model.ts';
import type { SecretBox } from './secret-box.ts';
import { generateSigningSecret } from './signature.ts';
import { type WebhookCollections, webhookCollections } from './store.ts';
import { checkEndpointUrl } from './url.ts';

const DELIVERY_ID = /^dlv_\d{14}[0-9a-f]{16}$/;

/** Body of `PUT .../webhook` (also the OpenAPI schema of that route). */
export const endpointInputSchema = z
  .object({
    url: z.string().max(2048),
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1, 'subscribe to at least one event')
      .transform((events) => [...new Set(events)]),
    enabled: z.boolean().default(true),
  })
  .strict();

export type EndpointInput = z.input<typeof endpointInputSchema>;

export const deliveryListQuerySchema = z
  .object({
    status: z.enum(['pending', 'in_flight', 'succeeded', 'failed', 'cancelled']).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
    cursor: z.string().regex(DELIVERY_ID, 'not a cursor from a previous page').optional(),
  })
  .strict();

export const MAX_ROTATION_GRACE_SECONDS = 7 * 86_400;

/** An endpoint as the API shows it: never its secret. */
export interface EndpointView {
  id: string;
  workspaceId: string;
  keyId: string | null;
  url: string;
  events: WebhookEventType[];
  enabled: boolean;
  /** While a rotation's grace lasts, deliveries are signed with the old secret too, until then. */
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeliveryView {
  id: string;
  endpointId: string;
  keyId: string | null;
  eventId: string;
  eventType: WebhookEventType;
  status: DeliveryStatus;
  payload: unknown;
  attempts: DeliveryAttempt[];
  nextAttemptAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

export interface WebhookServiceOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  secretBox: SecretBox;
  /** Non-production only: accept http:// and loopback URLs (see url.ts). */
  allowInsecureUrls: boolean;
}

/** The stored scope of a target, refusing malformed key ids (routes pass path parameters here). */
function scopeOf(target: EndpointTarget, workspaceId: string): string {
  assertWorkspaceId(workspaceId);
  if (target?.kind === 'workspace') return scopeOfTarget(target);
  if (target?.kind === 'key' && typeof target.keyId === 'string' && /^[\w-]{1,200}$/.test(target.keyId)) {
    return scopeOfTarget(target);
  }
  throw invalid('not a valid key id');
}

function invalid(message: string, code = 'invalid_request'): AppError {
  return new AppError(400, code, message);
}

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw invalid(`${where}${issue.message}`);
}

/**
 * Webhook endpoints (one per workspace and one per API key) and their delivery log. Routes call
 * this after their own authorisation: it trusts that the caller may act on `workspaceId` and that
 * `keyId` belongs to it.
 */
export class WebhookService {
  private readonly c: WebhookCollections;

  constructor(private readonly o: WebhookServiceOptions) {
    this.c = webhookCollections(o.storage);
  }

  async get(workspaceId: string, target: EndpointTarget): Promise<EndpointView | null> {
    const e = await this.c.endpoints.findOne({ workspaceId, scope: scopeOf(target, workspaceId) });
    return e ? this.view(e) : null;
  }

  /**
   * Creates or replaces the endpoint of `target`. A new endpoint gets a signing secret, returned
   * here only (shown once); replacing keeps the secret.
   */
  async put(
    workspaceId: string,
    target: EndpointTarget,
    input: unknown,
  ): Promise<{ endpoint: EndpointView; created: boolean; secret?: string }> {
    const body = parse(endpointInputSchema, input);
    const url = checkEndpointUrl(body.url, { allowInsecure: this.o.allowInsecureUrls });
    if (!url.ok) throw invalid(`url: ${url.reason}`, 'invalid_webhook_url');
    const scope = scopeOf(target, workspaceId);
    const now = this.o.clock.now();
    const changes = { url: url.url, events: body.events, enabled: body.enabled, updatedAt: now };
    for (let tries = 0; tries < 3; tries++) {
      const updated = await this.c.endpoints.update({ workspaceId, scope }, { set: changes });
      if (updated) return { endpoint: this.view(updated), created: false };
      const id = newId('whe');
      const secret = generateSigningSecret();
      const endpoint: WebhookEndpoint = {
        id,
        workspaceId,
        scope,
        keyId: target.kind === 'key' ? target.keyId : null,
        ...changes,
        secret: this.o.secretBox.seal(secret, id),
        createdAt: now,
      };
      try {
        await this.c.endpoints.insert(endpoint);
        this.o.logger.info({ workspaceId, endpoint: id, scope }, 'webhook endpoint created');
        return { endpoint: this.view(endpoint), created: true, secret };
      } catch (err) {
        // Another request created it between our update and insert: update that one instead.
        if (!(err instanceof DuplicateKeyError)) throw err;
      }
    }
    throw httpErrors.conflict('The webhook endpoint is being changed concurrently; try again.');
  }

  /**
   * A new signing secret (returned once). With `graceSeconds`, the old one keeps signing too (a
   * second `v1=`) for that long, so receivers can switch without dropping deliveries.
   */
  async rotateSecret(
    workspaceId: string,
    target: EndpointTarget,
    options: { graceSeconds?: number } = {},
  ): Promise<{ endpoint: EndpointView; secret: string }> {
    const grace = options.graceSeconds ?? 0;
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_ROTATION_GRACE_SECONDS) {
      throw invalid(`grace_seconds: expected a whole number from 0 to ${MAX_ROTATION_GRACE_SECONDS}`);
    }
    const current = await this.c.endpoints.findOne({ workspaceId, scope: scopeOf(target, workspaceId) });
    if (!current) throw httpErrors.notFound('webhook endpoint');
    const now = this.o.clock.now();
    const secret = generateSigningSecret();
    const updated = await this.c.endpoints.update(
      { id: current.id, secret: current.secret },
      grace > 0
        ? {
            set: {
              secret: this.o.secretBox.seal(secret, current.id),
              previousSecret: current.secret,
              previousSecretExpiresAt: new Date(now.getTime() + grace * 1000),
              updatedAt: now,
            },
          }
        : {
            set: { secret: this.o.secretBox.seal(secret, current.id), updatedAt: now },
            unset: ['previousSecret', 'previousSecretExpiresAt'],
          },
    );
    if (!updated) throw httpErrors.conflict('The signing secret was rotated concurrently; try again.');
    this.o.logger.info({ workspaceId, endpoint: current.id, graceSeconds: grace }, 'webhook secret rotated');
    return { endpoint: this.view(updated), secret };
  }

  async remove(workspaceId: string, target: EndpointTarget): Promise<boolean> {
    return (await this.c.endpoints.delete({ workspaceId, scope: scopeOf(target, workspaceId) })) > 0;
  }

  /** The delivery log, newest first; `target` narrows it to one endpoint's deliveries. */
  async listDeliveries(
    workspaceId: string,
    query: unknown = {},
    target?: EndpointTarget,
  ): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    assertWorkspaceId(workspaceId);
    const q = parse(deliveryListQuerySchema, query);
    const filter: Filter<WebhookDelivery> = { workspaceId };
    if (target) filter.scope = scopeOf(target, workspaceId);
    if (q.status) filter.status = q.status;
    if (q.cursor) filter.id = { $lt: q.cursor };
    const page = await this.c.deliveries.find(filter, {
      sort: { field: 'id', order: 'desc' },
      limit: q.limit + 1,
    });
    const items = page.slice(0, q.limit).map((d) => deliveryView(d));
    return { items, nextCursor: page.length > q.limit ? items[items.length - 1]!.id : null };
  }

  async getDelivery(workspaceId: string, id: string): Promise<DeliveryView | null> {
    assertWorkspaceId(workspaceId);
    if (typeof id !== 'string' || !DELIVERY_ID.test(id)) return null;
    const d = await this.c.deliveries.findOne({ id, workspaceId });
    return d ? deliveryView(d) : null;
  }

  /**
   * Queues one more attempt of a `failed` or `cancelled` delivery (the "resend" button), with the
   * same body and the endpoint's current URL and secret. Its log keeps the earlier attempts.
   * Answers null when there is no such delivery in the workspace; 409 while it is still going.
   */
  async redeliver(workspaceId: string, id: string): Promise<DeliveryView | null> {
    assertWorkspaceId(workspaceId);
    if (typeof id !== 'string' || !DELIVERY_ID.test(id)) return null;
    const d = await this.c.deliveries.findOne({ id, workspaceId });
    if (!d) return null;
    if (d.status !== 'failed' && d.status !== 'cancelled') {
      throw httpErrors.conflict(
        `The delivery is ${d.status}; only failed or cancelled ones can be sent again.`,
      );
    }
    const now = this.o.clock.now();
    const updated = await this.c.deliveries.update(
      { id, version: d.version, status: d.status },
      {
        set: {
          status: 'pending',
          version: d.version + 1,
          nextAttemptAt: now,
          manualRetry: true,
          updatedAt: now,
        },
        unset: ['completedAt', 'lastError'],
      },
    );
    if (!updated) throw httpErrors.conflict('The delivery changed meanwhile; try again.');
    return deliveryView(updated);
  }

  private view(e: WebhookEndpoint): EndpointView {
    const graceOn =
      e.previousSecretExpiresAt && e.previousSecretExpiresAt.getTime() > this.o.clock.now().getTime();
    return {
      id: e.id,
      workspaceId: e.workspaceId,
      keyId: e.keyId,
      url: e.url,
      events: e.events,
      enabled: e.enabled,
      previousSecretExpiresAt: graceOn ? e.previousSecretExpiresAt! : null,
      createdAt: e.createdAt,
      updatedAt: e.updatedAt,
    };
  }
}

function deliveryView(d: WebhookDelivery): DeliveryView {
  let payload: unknown = null;
  try {
    payload = JSON.parse(d.body);
  } catch {
    payload = null;
  }
  return {
    id: d.id,
    endpointId: d.endpointId,
    keyId: d.scope.startsWith('key:') ? d.scope.slice(4) : null,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    payload,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' || d.status === 'in_flight' ? d.nextAttemptAt : null,
    lastError: d.lastError ?? null,
    createdAt: d.createdAt,
    completedAt: d.completedAt ?? null,
  };
}
