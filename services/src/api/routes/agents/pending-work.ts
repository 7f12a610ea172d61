import type { PendingWork } from '@sesamespace/sdk/protocol';
import type { Db } from '../../../shared/db/database.js';
import type { Principal } from '../../../shared/db/schema.js';

/** What waits on one principal, one source per kind of work (the manifest's `pendingWork`). */
type PendingSource<K extends keyof PendingWork> = (db: Db, me: Principal) => Promise<PendingWork[K]>;

/** Tasks assigned to me that are not finished, most urgent first. */
const assignedTasks: PendingSource<'tasks'> = async (db, me) => {
  const rows = await db.selectFrom('tasks').innerJoin('task_assignees', 'task_assignees.task_id', 'tasks.id')
    .select(['tasks.id', 'tasks.channel_id', 'tasks.title', 'tasks.status', 'tasks.priority'])
    .where('task_assignees.principal_id', '=', me.id).where('tasks.status', 'not in', ['done', 'failed', 'canceled'])
    .orderBy('tasks.created_at').limit(200).execute();
  const rank = { urgent: 0, high: 1, medium: 2, low: 3 } as const;
  return rows.sort((a, b) => rank[a.priority] - rank[b.priority]).map((r) => ({ id: r.id, channelId: r.channel_id, title: r.title, status: r.status }));
};

/**
 * Pending lease requests I may decide: in vaults I own, or any vault of the workspace when I am
 * an admin; never my own requests (a requester does not decide its lease). Oldest first.
 */
const leaseRequestsAwaiting: PendingSource<'leaseRequests'> = async (db, me) => {
  let query = db.selectFrom('vault_leases').select(['id', 'item_id', 'requester_id', 'requested_at'])
    .where('workspace_id', '=', me.workspace_id).where('status', '=', 'pending')
    .where('pending_expires_at', '>', new Date()).where('requester_id', '<>', me.id);
  if (!me.is_admin) {
    query = query.where('vault_id', 'in', db.selectFrom('vault_members').select('vault_id')
      .where('principal_id', '=', me.id).where('role', '=', 'owner'));
  }
  const rows = await query.orderBy('requested_at').limit(200).execute();
  return rows.map((r) => ({ id: r.id, itemId: r.item_id, requesterId: r.requester_id, requestedAt: r.requested_at.toISOString() }));
};

/**
 * My active schedule events whose next run is due and not recorded yet (the worker flags them
 * `missed` once the grace period passes and moves them on), oldest first.
 */
const overdueOccurrences: PendingSource<'overdueOccurrences'> = async (db, me) => {
  const rows = await db.selectFrom('schedule_events').select(['id', 'title', 'next_occurrence_at'])
    .where('agent_id', '=', me.id).where('status', '=', 'active')
    .where('next_occurrence_at', '<=', new Date()).orderBy('next_occurrence_at').limit(200).execute();
  return rows.flatMap((r) => (r.next_occurrence_at ? [{ eventId: r.id, title: r.title, scheduledAt: r.next_occurrence_at.toISOString() }] : []));
};

export async function pendingWorkOf(db: Db, me: Principal): Promise<PendingWork> {
  const [tasks, leaseRequests, overdue] = await Promise.all([assignedTasks(db, me), leaseRequestsAwaiting(db, me), overdueOccurrences(db, me)]);
  return { tasks, leaseRequests, overdueOccurrences: overdue };
}
