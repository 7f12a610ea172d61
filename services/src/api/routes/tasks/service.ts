import { EventType, TASK_RETRYABLE, canTransition, inboxStream, type Task, type TaskEvent, type TaskStatus } from '@sesamespace/sdk/protocol';
import type { ServiceContext } from '../../../shared/context.js';
import type { Db } from '../../../shared/db/database.js';
import type { Channel, Principal, TaskPriority, TaskRow } from '../../../shared/db/schema.js';
import { conflict, forbidden, notFound } from '../../../shared/errors.js';
import { withEvents, type EventBatch, type Trx } from '../../../shared/events.js';
import { decodeCursor, encodeCursor, pageOf } from '../../../shared/http/schemas.js';
import { newId } from '../../../shared/ids.js';
import { iso } from '../../wire.js';
import { channelForMember } from '../channels/access.js';
import { assertPrincipalsInWorkspace, createChannel } from '../channels/service.js';
import { appendRunEvent, publishRunEvents, type RunEventWrite } from './run-events.js';

type AssigneeRow = { task_id: string; principal_id: string; role: string; assigned_by: string | null; assigned_at: Date };

function taskToWire(t: TaskRow, assignees: AssigneeRow[]): Task {
  return {
    id: t.id, workspaceId: t.workspace_id, channelId: t.channel_id, title: t.title, description: t.description, status: t.status,
    priority: t.priority, labels: t.labels, dueAt: iso(t.due_at), createdBy: t.created_by, claimedBy: t.claimed_by,
    assignees: assignees.map((a) => ({ principalId: a.principal_id, role: a.role, assignedBy: a.assigned_by, assignedAt: iso(a.assigned_at) })),
    taskChannelId: t.task_channel_id, run: t.run, createdAt: iso(t.created_at), updatedAt: iso(t.updated_at), completedAt: iso(t.completed_at),
  };
}

export async function tasksToWire(db: Db | Trx, tasks: TaskRow[]): Promise<Task[]> {
  if (tasks.length === 0) return [];
  const rows = await db.selectFrom('task_assignees').selectAll().where('task_id', 'in', tasks.map((t) => t.id)).orderBy('assigned_at').execute();
  return tasks.map((t) => taskToWire(t, rows.filter((r) => r.task_id === t.id)));
}

/** A task of a channel the caller belongs to: another workspace's is 404, a channel you are not in 403. */
export async function taskInChannel(db: Db, me: Principal, channelId: string, taskId: string): Promise<{ channel: Channel; task: TaskRow }> {
  const { channel } = await channelForMember(db, me, channelId);
  const task = await db.selectFrom('tasks').selectAll().where('id', '=', taskId).where('channel_id', '=', channel.id).executeTakeFirst();
  if (!task) throw notFound('Task');
  return { channel, task };
}

/** A task by id alone (the `/tasks/:id` routes), with the same rules through its channel. */
export async function taskForMember(db: Db, me: Principal, taskId: string): Promise<{ channel: Channel; task: TaskRow }> {
  const task = await db.selectFrom('tasks').selectAll().where('id', '=', taskId).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
  if (!task) throw notFound('Task');
  const { channel } = await channelForMember(db, me, task.channel_id);
  return { channel, task };
}

/** The `409` of a transition the table does not allow. */
function illegalTransition(from: TaskStatus, to: TaskStatus) {
  return conflict(`A task cannot move from '${from}' to '${to}'`, { from, to });
}

/** Writes `type` on the channel stream and on the inbox of every assignee (and of `extra`). */
async function announce(trx: Trx, events: EventBatch, task: TaskRow, type: string, data: Record<string, unknown>, extra: string[] = []) {
  const [wire] = await tasksToWire(trx, [task]);
  const payload = { ...data, task: wire };
  await events.append(task.channel_id, type, payload);
  const inboxes = new Set([...wire.assignees.map((a) => a.principalId), ...extra]);
  for (const principalId of inboxes) await events.append(inboxStream(principalId), type, payload);
  return wire;
}

export interface CreateTaskInput { title: string; description?: string; priority?: TaskPriority; dueAt?: string; labels?: string[] }

export function createTask(ctx: ServiceContext, me: Principal, channel: Channel, input: CreateTaskInput): Promise<Task> {
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const now = new Date();
    const row = await trx.insertInto('tasks').values({
      id: newId('task'), workspace_id: me.workspace_id, channel_id: channel.id, title: input.title, description: input.description ?? null,
      status: 'open', priority: input.priority ?? 'medium', labels: JSON.stringify(input.labels ?? []), due_at: input.dueAt ?? null,
      created_by: me.id, claimed_by: null, task_channel_id: null, created_at: now, updated_at: now, completed_at: null,
    }).returningAll().executeTakeFirstOrThrow();
    return announce(trx, events, row, EventType.TaskCreated, { actorId: me.id });
  });
}

const TERMINAL: readonly TaskStatus[] = ['done', 'failed', 'canceled'];

/** Column values for entering `to` (completion time, and the claimer when claiming). */
function statusColumns(to: TaskStatus, me: Principal) {
  return {
    status: to, updated_at: new Date(),
    ...(TERMINAL.includes(to) ? { completed_at: new Date() } : {}),
    ...(to === 'claimed' ? { claimed_by: me.id } : {}),
    ...(to === 'open' ? { claimed_by: null } : {}),
  };
}

export interface UpdateTaskInput { title?: string; description?: string | null; priority?: TaskPriority; dueAt?: string | null; labels?: string[]; status?: TaskStatus }

/**
 * Changes fields and/or status. The row is locked first, so the transition is checked against
 * the status that is really there; claiming through here obeys the same rule as `claimTask`.
 */
export async function updateTask(
  ctx: ServiceContext, me: Principal, taskId: string, patch: UpdateTaskInput, runEvent?: RunEventWrite, options: { mustMove?: boolean } = {},
): Promise<{ task: Task; runEvents: TaskEvent[] }> {
  const written: TaskEvent[] = [];
  const task = await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const current = await trx.selectFrom('tasks').selectAll().where('id', '=', taskId).forUpdate().executeTakeFirst();
    if (!current) throw notFound('Task');
    const { status, dueAt, ...fields } = patch;
    const changes = Object.keys(patch);
    if (status === 'claimed' && current.status !== 'open') {
      throw current.claimed_by ? conflict('Task is already claimed', { claimedBy: current.claimed_by, currentStatus: current.status }) : illegalTransition(current.status, status);
    }
    const moves = status !== undefined && status !== current.status;
    // A PATCH to the current status changes nothing; a cancel (or a `done` event) of a task already there is a conflict.
    if (options.mustMove && status !== undefined && !moves) throw illegalTransition(current.status, status);
    if (moves && !canTransition(current.status, status)) throw illegalTransition(current.status, status);
    const row = await trx.updateTable('tasks').set({
      ...fields, ...(fields.labels ? { labels: JSON.stringify(fields.labels) } : {}), ...(dueAt !== undefined ? { due_at: dueAt } : {}),
      ...(moves ? statusColumns(status, me) : { updated_at: new Date() }),
    }).where('id', '=', taskId).returningAll().executeTakeFirstOrThrow();
    if (moves && status === 'claimed') {
      await assign(trx, row.id, me.id, 'owner', me.id);
      await announce(trx, events, row, EventType.TaskAssigned, { actorId: me.id, principalId: me.id, role: 'owner', assigned: true });
    }
    // Unclaiming gives the task back: the claimer's `owner` role goes with the claim.
    if (moves && status === 'open' && current.claimed_by) {
      const released = await trx.deleteFrom('task_assignees').where('task_id', '=', row.id).where('principal_id', '=', current.claimed_by)
        .where('role', '=', 'owner').executeTakeFirst();
      if (Number(released.numDeletedRows) > 0) {
        await announce(trx, events, row, EventType.TaskAssigned, { actorId: me.id, principalId: current.claimed_by, role: 'owner', assigned: false }, [current.claimed_by]);
      }
    }
    // A run ends with `done` however the task got there, so its stream's readers are released.
    const ending = moves && TERMINAL.includes(status) ? { kind: 'done' as const, data: { status: DONE_STATUS[status as 'done'] } } : undefined;
    const toWrite = runEvent ?? ending;
    if (toWrite) written.push(await appendRunEvent(trx, row, me, toWrite));
    return announce(trx, events, row, EventType.TaskUpdated, { actorId: me.id, changes });
  });
  publishRunEvents(ctx, taskId, written);
  return { task, runEvents: written };
}

/** The `done` event's status for each final task status. */
const DONE_STATUS = { done: 'completed', failed: 'failed', canceled: 'canceled' } as const;

async function assign(trx: Trx, taskId: string, principalId: string, role: string, by: string) {
  await trx.insertInto('task_assignees').values({ task_id: taskId, principal_id: principalId, role, assigned_by: by, assigned_at: new Date() })
    .onConflict((oc) => oc.columns(['task_id', 'principal_id']).doUpdateSet({ role, assigned_by: by })).execute();
}

/**
 * Claims an open task for the caller. One conditional `UPDATE … WHERE status = 'open'`: of any
 * number of concurrent claimers the first to take the row lock wins; the others re-check the
 * condition after its commit, update nothing, and get a `409`.
 */
export function claimTask(ctx: ServiceContext, me: Principal, taskId: string): Promise<Task> {
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const row = await trx.updateTable('tasks').set(statusColumns('claimed', me))
      .where('id', '=', taskId).where('status', '=', 'open').returningAll().executeTakeFirst();
    if (!row) {
      const current = await trx.selectFrom('tasks').select(['status', 'claimed_by']).where('id', '=', taskId).executeTakeFirst();
      if (!current) throw notFound('Task');
      if (current.claimed_by) throw conflict('Task is already claimed', { claimedBy: current.claimed_by, currentStatus: current.status });
      throw illegalTransition(current.status, 'claimed');
    }
    await assign(trx, row.id, me.id, 'owner', me.id);
    await announce(trx, events, row, EventType.TaskAssigned, { actorId: me.id, principalId: me.id, role: 'owner', assigned: true });
    return announce(trx, events, row, EventType.TaskUpdated, { actorId: me.id, changes: ['status', 'claimedBy'] });
  });
}

export function addAssignee(ctx: ServiceContext, me: Principal, task: TaskRow, principalId: string, role: string): Promise<Task> {
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    await assertPrincipalsInWorkspace(trx, me.workspace_id, [principalId]).catch(() => { throw notFound('Principal'); });
    const member = await trx.selectFrom('channel_members').select('principal_id').where('channel_id', '=', task.channel_id).where('principal_id', '=', principalId).executeTakeFirst();
    if (!member) throw forbidden('Only members of the task\'s channel can be assigned');
    await assign(trx, task.id, principalId, role, me.id);
    const row = await trx.updateTable('tasks').set({ updated_at: new Date() }).where('id', '=', task.id).returningAll().executeTakeFirstOrThrow();
    return announce(trx, events, row, EventType.TaskAssigned, { actorId: me.id, principalId, role, assigned: true });
  });
}

export function removeAssignee(ctx: ServiceContext, me: Principal, task: TaskRow, principalId: string): Promise<Task> {
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const removed = await trx.deleteFrom('task_assignees').where('task_id', '=', task.id).where('principal_id', '=', principalId).returning('role').executeTakeFirst();
    if (!removed) throw notFound('Assignee');
    const row = await trx.updateTable('tasks').set({ updated_at: new Date() }).where('id', '=', task.id).returningAll().executeTakeFirstOrThrow();
    // The removed principal hears it on their inbox too, though they are no longer an assignee.
    return announce(trx, events, row, EventType.TaskAssigned, { actorId: me.id, principalId, role: removed.role, assigned: false }, [principalId]);
  });
}

/**
 * A channel for one task (kind `task`): its members are the creator and the assignees, the task
 * points at it (`taskChannelId`) and it points back (`channels.task_id`). Asking again returns it.
 */
export async function createTaskChannel(ctx: ServiceContext, me: Principal, task: TaskRow): Promise<{ channel: Channel; created: boolean }> {
  if (task.task_channel_id) {
    const existing = await ctx.db.selectFrom('channels').selectAll().where('id', '=', task.task_channel_id).executeTakeFirst();
    if (existing) return { channel: existing, created: false };
  }
  const assignees = await ctx.db.selectFrom('task_assignees').select('principal_id').where('task_id', '=', task.id).execute();
  const memberIds = [...new Set([task.created_by, ...assignees.map((a) => a.principal_id)])];
  const { channel } = await createChannel(ctx, me, { kind: 'task', name: task.title.slice(0, 100), description: task.description?.slice(0, 2000), memberIds });
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const linked = await trx.updateTable('channels').set({ task_id: task.id }).where('id', '=', channel.id).returningAll().executeTakeFirstOrThrow();
    const row = await trx.updateTable('tasks').set({ task_channel_id: channel.id, updated_at: new Date() }).where('id', '=', task.id).returningAll().executeTakeFirstOrThrow();
    await announce(trx, events, row, EventType.TaskUpdated, { actorId: me.id, changes: ['taskChannelId'] });
    return { channel: linked, created: true };
  });
}

/** Cancels a task and ends its current run with a `done` event, so its stream ends too. */
export async function cancelTask(ctx: ServiceContext, me: Principal, taskId: string): Promise<Task> {
  return (await updateTask(ctx, me, taskId, { status: 'canceled' }, undefined, { mustMove: true })).task;
}

/** Starts run `run + 1` of a failed or canceled task: back to `claimed` by its claimer, or `open`. */
export async function retryTask(ctx: ServiceContext, me: Principal, taskId: string): Promise<Task> {
  const written: TaskEvent[] = [];
  const task = await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const current = await trx.selectFrom('tasks').selectAll().where('id', '=', taskId).forUpdate().executeTakeFirst();
    if (!current) throw notFound('Task');
    const to: TaskStatus = current.claimed_by ? 'claimed' : 'open';
    if (!TASK_RETRYABLE.includes(current.status)) throw conflict(`Only a failed or canceled task can be retried; this one is '${current.status}'`, { from: current.status, to });
    const row = await trx.updateTable('tasks').set({ status: to, run: current.run + 1, completed_at: null, updated_at: new Date() })
      .where('id', '=', taskId).returningAll().executeTakeFirstOrThrow();
    written.push(await appendRunEvent(trx, row, me, { kind: 'status', data: { status: 'retrying', progress: 0 } }));
    return announce(trx, events, row, EventType.TaskUpdated, { actorId: me.id, changes: ['status', 'run'] });
  });
  publishRunEvents(ctx, taskId, written);
  return task;
}

export interface TaskListFilter { status?: TaskStatus; priority?: TaskPriority; assigneeId?: string; cursor?: string; limit: number }

/**
 * One page of tasks, newest first: those of one channel, or those of every channel `memberId`
 * belongs to (another member's work elsewhere stays unseen), narrowed by the filter.
 */
export async function pageOfTasks(db: Db, scope: { channelId: string } | { memberId: string; workspaceId: string }, filter: TaskListFilter) {
  let query = db.selectFrom('tasks').selectAll('tasks');
  query = 'channelId' in scope
    ? query.where('tasks.channel_id', '=', scope.channelId)
    : query.where('tasks.workspace_id', '=', scope.workspaceId).where((eb) => eb.exists(eb.selectFrom('channel_members').select('channel_members.channel_id')
      .whereRef('channel_members.channel_id', '=', 'tasks.channel_id').where('channel_members.principal_id', '=', scope.memberId)));
  const { status, priority, assigneeId, cursor, limit } = filter;
  if (status) query = query.where('tasks.status', '=', status);
  if (priority) query = query.where('tasks.priority', '=', priority);
  if (assigneeId) query = query.where((eb) => eb.exists(eb.selectFrom('task_assignees').select('task_assignees.task_id').whereRef('task_assignees.task_id', '=', 'tasks.id').where('task_assignees.principal_id', '=', assigneeId)));
  if (cursor) {
    const after = decodeCursor<{ at: string; id: string }>(cursor, { at: 'string', id: 'string' });
    query = query.where((eb) => eb.or([eb('tasks.created_at', '<', new Date(after.at)), eb.and([eb('tasks.created_at', '=', new Date(after.at)), eb('tasks.id', '<', after.id)])]));
  }
  const rows = await query.orderBy('tasks.created_at', 'desc').orderBy('tasks.id', 'desc').limit(limit + 1).execute();
  return pageOf(rows, limit, (last) => encodeCursor({ at: new Date(last.created_at).toISOString(), id: last.id }));
}
