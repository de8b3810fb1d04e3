import { z } from 'zod';
import { httpErrors } from '../http/errors.ts';
import {
  type Clock,
  type Collection,
  type CollectionSpec,
  type Storage,
  updateOrCreate,
} from '../storage/port.ts';

/**
 * A workspace's credit balance. Charges are one atomic conditional update
 * (`balance >= cost` → `balance -= cost`), so any number of concurrent verifications on any
 * number of processes never spend more than the balance. A workspace without a balance has 0.
 */
interface CreditDoc {
  id: string; // the workspace id
  balance: number;
  updatedAt: Date;
}

export const creditsSpec: CollectionSpec = { name: 'workspace_credits' };

export const MAX_CREDITS = 1_000_000_000_000;
export const creditAmount = z.number().int().min(1).max(1_000_000_000);
export const creditCost = z.number().int().min(0).max(1_000_000);

export type ChargeResult = { ok: true; remaining: number } | { ok: false; remaining: number };

export class CreditLedger {
  private readonly docs: Collection<CreditDoc>;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
  ) {
    this.docs = storage.collection<CreditDoc>(creditsSpec);
  }

  async balance(workspaceId: string): Promise<number> {
    if (typeof workspaceId !== 'string') return 0;
    return (await this.docs.get(workspaceId))?.balance ?? 0;
  }

  async charge(workspaceId: string, cost: number): Promise<ChargeResult> {
    const c = creditCost.safeParse(cost);
    if (!c.success) throw httpErrors.badRequest('cost: a whole number from 0 to 1000000', { field: 'cost' });
    if (cost === 0) return { ok: true, remaining: await this.balance(workspaceId) };
    const after = await this.docs.update(
      { id: workspaceId, balance: { $gte: cost } },
      { inc: { balance: -cost }, set: { updatedAt: this.clock.now() } },
    );
    if (after) return { ok: true, remaining: after.balance };
    return { ok: false, remaining: await this.balance(workspaceId) };
  }

  /** Adds credits; answers the new balance. */
  async topUp(workspaceId: string, amount: number): Promise<number> {
    if (typeof workspaceId !== 'string' || !workspaceId) throw httpErrors.notFound('workspace');
    if (!creditAmount.safeParse(amount).success) {
      throw httpErrors.badRequest('amount: a whole number from 1 to 1000000000', { field: 'amount' });
    }
    const after = await updateOrCreate(
      this.docs,
      workspaceId,
      { balance: { $lte: MAX_CREDITS - amount } },
      { inc: { balance: amount }, set: { updatedAt: this.clock.now() } },
      () => ({ id: workspaceId, balance: amount, updatedAt: this.clock.now() }),
    );
    if (!after) {
      throw httpErrors.badRequest(`amount: the balance cannot exceed ${MAX_CREDITS}`, { field: 'amount' });
    }
    return after.balance;
  }
}
