import { expireIfDue, systemClock, type Clock } from '@sesamespace/vault';
import { appendAudit } from '../shared/audit.js';
import type { ServiceContext } from '../shared/context.js';
import { EventBatch } from '../shared/events.js';
import { leaseColumns, notifyRequester, toLease } from '../shared/vault/lease-rows.js';

/**
 * Expires pending lease requests past their decision window and approved/active leases past
 * their TTL, one batch per transaction claimed with `FOR UPDATE SKIP LOCKED`: several workers
 * never take the same lease, and a lease being decided or used at this moment is left for the
 * next batch. Each expiry tells the requester (`vault.lease_updated`) and is audited. The TTL is
 * also checked at every use (`useSecret`), so this sweep records expiry; it does not enforce it.
 * Returns how many leases expired in this batch.
 */
export async function expireDueLeases(ctx: ServiceContext, clock: Clock = systemClock, batchSize = 100): Promise<number> {
  const now = clock.now();
  const batches: EventBatch[] = [];
  const count = await ctx.db.transaction().execute(async (trx) => {
    const due = await trx.selectFrom('vault_leases').selectAll()
      .where((eb) => eb.or([
        eb.and([eb('status', '=', 'pending'), eb('pending_expires_at', '<=', now)]),
        eb.and([eb('status', 'in', ['approved', 'active']), eb('expires_at', '<=', now)]),
      ]))
      .orderBy('id').limit(batchSize).forUpdate().skipLocked().execute();
    for (const row of due) {
      const expired = expireIfDue(toLease(row), clock);
      const updated = await trx.updateTable('vault_leases').set(leaseColumns(expired)).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
      const batch = new EventBatch(trx, row.workspace_id);
      await notifyRequester(batch, updated);
      batches.push(batch);
      await appendAudit(trx, {
        workspaceId: row.workspace_id, actorId: null, action: 'vault.lease_expired', targetType: 'vault_lease', targetId: row.id,
        data: { vaultId: row.vault_id, itemId: row.item_id, was: row.status },
      });
    }
    return due.length;
  });
  const events = batches.flatMap((b) => b.events);
  if (events.length) ctx.publish(events);
  return count;
}

/** The worker job: batches until nothing is due. */
export async function runLeaseExpiry(ctx: ServiceContext, clock: Clock = systemClock): Promise<void> {
  const batchSize = 100;
  let expired = batchSize;
  while (expired === batchSize) expired = await expireDueLeases(ctx, clock, batchSize);
}
