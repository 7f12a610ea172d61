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
 * Hook for the vault feature: lease requests awaiting my approval. Empty until the vault's leases
 * land; that change replaces this body with its query.
 */
const leaseRequestsAwaiting: PendingSource<'leaseRequests'> = () => Promise.resolve([]);

/**
 * Hook for the schedules feature: occurrences of my schedule events that are overdue. Empty until
 * schedules land; that change replaces this body with its query.
 */
const overdueOccurrences: PendingSource<'overdueOccurrences'> = () => Promise.resolve([]);

export async function pendingWorkOf(db: Db, me: Principal): Promise<PendingWork> {
  const [tasks, leaseRequests, overdue] = await Promise.all([assignedTasks(db, me), leaseRequestsAwaiting(db, me), overdueOccurrences(db, me)]);
  return { tasks, leaseRequests, overdueOccurrences: overdue };
}
