import { z } from 'zod';
import { AppError } from '../http/errors.ts';
import type { Logger } from '../logger.ts';
import type { Clock, Collection, Filter, Storage } from '../storage/port.ts';
import { timeOrderedId } from '../webhooks/events.ts';
import { type AuditEntry, type AuditEventInput, auditSpec } from './model.ts';

const AUDIT_ID = /^aud_\d{14}[0-9a-f]{16}$/;
const ACTION = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const ACTOR_KINDS = ['user', 'api_key', 'system'] as const;

/** Query of the audit list (snake_case, as the HTTP route takes it). */
export const auditListQuerySchema = z
  .object({
    action: z.string().regex(ACTION, 'expected an action such as key.created').optional(),
    actor_kind: z.enum(ACTOR_KINDS).optional(),
    actor_id: z.string().min(1).max(200).optional(),
    since: z.coerce.date({ error: 'expected an ISO 8601 date' }).optional(),
    until: z.coerce.date({ error: 'expected an ISO 8601 date' }).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().regex(AUDIT_ID, 'not a cursor from a previous page').optional(),
  })
  .strict();

export interface AuditLogOptions {
  storage: Storage;
  clock: Clock;
  logger: Logger;
  /** Entries are kept this many days (default 90), then expire. */
  retentionDays?: number;
}

const clip = (s: unknown, max: number): string | undefined =>
  typeof s === 'string' && s.length ? s.slice(0, max) : undefined;

/**
 * The workspace audit trail. `record` is one insert and never throws into the caller: an audit
 * failure is logged and the request goes on. `list` reads newest first with a cursor.
 */
export class AuditLog {
  private readonly entries: Collection<AuditEntry>;
  private readonly retentionMs: number;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly o: AuditLogOptions) {
    this.entries = o.storage.collection<AuditEntry>(auditSpec);
    this.retentionMs = (o.retentionDays ?? 90) * 86_400_000;
  }

  /** Stores the event; resolves when written (or dropped), never rejects. Callers need not await. */
  record(event: AuditEventInput): Promise<void> {
    let entry: AuditEntry;
    try {
      entry = this.toEntry(event);
    } catch (err) {
      this.o.logger.warn(
        { err: (err as Error).message, action: clip(event?.action, 100) },
        'audit event dropped',
      );
      return Promise.resolve();
    }
    const write = this.entries
      .insert(entry)
      .catch((err) => {
        this.o.logger.error(
          { err: (err as Error).message, action: entry.action, workspaceId: entry.workspaceId },
          'audit event could not be written',
        );
      })
      .finally(() => this.pending.delete(write));
    this.pending.add(write);
    return write;
  }

  /** Waits for the writes in progress (graceful shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async list(
    workspaceId: string,
    query: unknown = {},
  ): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    // A missing id would widen the filter to every tenant (the port ignores undefined conditions).
    if (typeof workspaceId !== 'string' || !workspaceId.length) throw new Error('workspaceId is required');
    const parsed = auditListQuerySchema.safeParse(query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new AppError(400, 'invalid_request', `${issue.path.join('.') || 'query'}: ${issue.message}`);
    }
    const q = parsed.data;
    const filter: Filter<AuditEntry> = { workspaceId };
    if (q.action) filter.action = q.action;
    if (q.actor_kind) filter['actor.kind'] = q.actor_kind;
    if (q.actor_id) filter['actor.id'] = q.actor_id;
    if (q.since || q.until) {
      filter.at = { ...(q.since ? { $gte: q.since } : {}), ...(q.until ? { $lte: q.until } : {}) };
    }
    if (q.cursor) filter.id = { $lt: q.cursor };
    const page = await this.entries.find(filter, {
      sort: { field: 'id', order: 'desc' },
      limit: q.limit + 1,
    });
    const items = page.slice(0, q.limit);
    return { items, nextCursor: page.length > q.limit ? items[items.length - 1]!.id : null };
  }

  private toEntry(e: AuditEventInput): AuditEntry {
    if (!e || typeof e !== 'object') throw new Error('not an audit event');
    const workspaceId = clip(e.workspaceId, 200);
    if (!workspaceId) throw new Error('workspaceId is required');
    if (typeof e.action !== 'string' || e.action.length > 100 || !ACTION.test(e.action)) {
      throw new Error('action must look like noun.verb');
    }
    if (!e.actor || !(ACTOR_KINDS as readonly string[]).includes(e.actor.kind))
      throw new Error('bad actor kind');
    const actorId = clip(e.actor.id, 200);
    if (!actorId) throw new Error('actor.id is required');
    if (e.outcome !== 'success' && e.outcome !== 'failure')
      throw new Error('outcome must be success or failure');
    const now = this.o.clock.now();
    const at = e.at instanceof Date && Number.isFinite(e.at.getTime()) ? e.at : now;
    const entry: AuditEntry = {
      id: timeOrderedId('aud', at),
      workspaceId,
      actor: { kind: e.actor.kind, id: actorId },
      action: e.action,
      outcome: e.outcome,
      at,
      expiresAt: new Date(at.getTime() + this.retentionMs),
    };
    const targetType = clip(e.target?.type, 100);
    const targetId = clip(e.target?.id, 200);
    if (targetType && targetId) entry.target = { type: targetType, id: targetId };
    const ip = clip(e.ip, 64);
    if (ip) entry.ip = ip;
    const userAgent = clip(e.userAgent, 512);
    if (userAgent) entry.userAgent = userAgent;
    const reason = clip(e.reason, 500);
    if (reason) entry.reason = reason;
    return entry;
  }
}
