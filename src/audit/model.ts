import type { CollectionSpec } from '../storage/port.ts';

export type ActorKind = 'user' | 'api_key' | 'system';

export interface AuditActor {
  kind: ActorKind;
  id: string;
}

export interface AuditTarget {
  /** What was acted on, e.g. `api_key`, `webhook_endpoint`, `member`. */
  type: string;
  id: string;
}

export type AuditOutcome = 'success' | 'failure';

/** What callers hand to `record`. */
export interface AuditEventInput {
  workspaceId: string;
  actor: AuditActor;
  /** `<noun>.<verb>`, e.g. `key.created`, `key.used_refused`, `webhook.updated`. */
  action: string;
  target?: AuditTarget;
  ip?: string;
  userAgent?: string;
  outcome: AuditOutcome;
  /** Why, mostly for failures (`insufficient_scope`, `key_revoked`, ...). Never a secret. */
  reason?: string;
  /** When it happened (default: now). */
  at?: Date;
}

export interface AuditEntry extends Omit<AuditEventInput, 'at'> {
  id: string; // aud_<time-ordered>
  at: Date;
  /** Retention: the entry is gone after this date. */
  expiresAt: Date;
}

export const auditSpec: CollectionSpec = {
  name: 'audit_log',
  indexes: [
    { fields: ['workspaceId'] },
    { fields: ['workspaceId', 'action'] },
    { fields: ['workspaceId', 'at'] },
  ],
  expiresField: 'expiresAt',
};
