import type { PendingWork } from '@sesamespace/sdk/protocol';
import type { Db } from '../../../shared/db/database.js';
import type { Principal } from '../../../shared/db/schema.js';
import type { AuthContext } from '../../../shared/auth/authenticate.js';
import { listLeases, vaultActor } from '../vaults/service.js';

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
 * Pending lease requests I may decide: the vault's own rule (`listLeases`: vaults I own, every
 * vault for an admin) minus my own requests, which a requester never decides. Oldest first.
 */
async function leaseRequestsAwaiting(db: Db, auth: AuthContext): Promise<PendingWork['leaseRequests']> {
  const now = Date.now();
  const leases = await listLeases(db, vaultActor(auth), { status: 'pending' });
  return leases.filter((l) => l.requester_id !== auth.principal.id && new Date(l.pending_expires_at).getTime() > now)
    .sort((x, y) => new Date(x.requested_at).getTime() - new Date(y.requested_at).getTime())
    .map((l) => ({ id: l.id, itemId: l.item_id, requesterId: l.requester_id, requestedAt: new Date(l.requested_at).toISOString() }));
}

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

export async function pendingWorkOf(db: Db, auth: AuthContext): Promise<PendingWork> {
  const me = auth.principal;
  const [tasks, leaseRequests, overdue] = await Promise.all([assignedTasks(db, me), leaseRequestsAwaiting(db, auth), overdueOccurrences(db, me)]);
  return { tasks, leaseRequests, overdueOccurrences: overdue };
}
