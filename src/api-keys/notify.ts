import type { AuditActor, AuditEventInput } from '../audit/model.ts';
import { AppError } from '../http/errors.ts';
import type { Clock } from '../storage/port.ts';
import type { WebhookEvent } from '../webhooks/events.ts';
import type { ApiKeyView } from './model.ts';
import type { Caller } from './policy.ts';

export interface NotifyOptions {
  clock: Clock;
  /** Queues webhook events (key.created, ...); never expected to throw. */
  emit?: (event: WebhookEvent) => Promise<unknown>;
  /** The audit trail: management actions, and refused escalations (verifications are not audited: too many). */
  audit?: { record(event: AuditEventInput): Promise<void> | void };
  logger?: { warn(obj: object, msg: string): void };
}

const SYSTEM: AuditActor = { kind: 'system', id: 'gatehouse' };

/** What the key service tells others: webhook events and audit entries. Neither ever fails the action. */
export class KeyNotifier {
  constructor(private readonly o: NotifyOptions) {}

  /**
   * Runs a management action and writes it to the audit trail: successes, and refusals that
   * matter for security (escalation attempts). Validation errors and unknown keys are not audited.
   */
  async audited<T>(
    action: string,
    workspaceId: string,
    caller: Caller,
    target: string | ((result: T) => string) | null,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      const result = await fn();
      this.audit(
        action,
        workspaceId,
        caller,
        'success',
        typeof target === 'function' ? target(result) : target,
      );
      return result;
    } catch (err) {
      if (err instanceof AppError && err.code === 'scope_escalation') {
        this.audit(
          action,
          workspaceId,
          caller,
          'failure',
          typeof target === 'string' ? target : null,
          err.code,
        );
      }
      throw err;
    }
  }

  private audit(
    action: string,
    workspaceId: string,
    caller: Caller,
    outcome: 'success' | 'failure',
    keyId: string | null,
    reason?: string,
  ): void {
    if (!this.o.audit || typeof workspaceId !== 'string') return;
    const entry: AuditEventInput = {
      workspaceId,
      actor: caller.actor ?? SYSTEM,
      action,
      outcome,
      at: this.o.clock.now(),
      ...(keyId ? { target: { type: 'api_key', id: keyId } } : {}),
      ...(caller.ip ? { ip: caller.ip } : {}),
      ...(reason ? { reason } : {}),
    };
    void Promise.resolve()
      .then(() => this.o.audit!.record(entry))
      .catch((err: unknown) =>
        this.o.logger?.warn({ action, err: (err as Error).message }, 'could not audit'),
      );
  }

  /** A key.* webhook event; the data describes the key, never its secret. */
  async keyEvent(
    type: WebhookEvent['type'],
    key: ApiKeyView,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    await this.emit({
      type,
      workspaceId: key.workspaceId,
      keyId: key.id,
      data: {
        key: {
          id: key.id,
          name: key.name,
          environment: key.environment,
          hint: key.hint,
          scopes: key.scopes,
          grant_all: key.grantAll,
          status: key.status,
          expires_at: key.expiresAt?.toISOString() ?? null,
        },
        ...extra,
      },
    });
  }

  async emit(event: WebhookEvent): Promise<void> {
    if (!this.o.emit) return;
    try {
      await this.o.emit({ ...event, occurredAt: this.o.clock.now() });
    } catch (err) {
      this.o.logger?.warn({ type: event.type, err: (err as Error).message }, 'could not queue webhook event');
    }
  }
}
