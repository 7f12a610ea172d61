import type { TaskEvent } from '@sesamespace/sdk/protocol';
import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../../shared/context.js';
import { conflict, forbidden, notFound } from '../../../shared/errors.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, IdParams, Page, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { channelForMember } from '../channels/access.js';
import { ChannelSchema } from '../channels/schemas.js';
import { channelsToWire } from '../channels/service.js';
import { appendRunEvent, publishRunEvents, readRunEvents, validateRunEvent } from './run-events.js';
import {
  AddAssigneeBody, AppendTaskEventBody, AssigneeParams, CreateTaskBody, ListTasksQuery, MyTasksQuery, PermissionBody, PermissionParams,
  StreamQuery, TaskEventSchema, TaskEventsQuery, TaskParams, TaskSchema, UpdateTaskBody,
} from './schemas.js';
import {
  addAssignee, cancelTask, claimTask, createTask, createTaskChannel, pageOfTasks, removeAssignee, retryTask, taskForMember, taskInChannel, tasksToWire,
  updateTask,
} from './service.js';
import { resumePoint, serveTaskStream } from './stream.js';

const DONE_TO_STATUS = { completed: 'done', failed: 'failed', canceled: 'canceled' } as const;

/** Tasks per channel, the caller's work across the workspace, and task runs (events, stream, permissions). */
export async function taskRoutes(app: TypedApp, ctx: ServiceContext) {
  const one = async (row: Parameters<typeof tasksToWire>[1][number]) => (await tasksToWire(ctx.db, [row]))[0];

  app.post('/channels/:id/tasks', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Create a task in a channel', params: IdParams, body: CreateTaskBody, response: { 201: Data(TaskSchema), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const { channel } = await channelForMember(ctx.db, me, request.params.id);
    reply.status(201);
    return { data: await createTask(ctx, me, channel, request.body) };
  });

  app.get('/channels/:id/tasks', {
    config: { scope: 'read' },
    schema: { tags: ['tasks'], summary: 'Tasks of a channel, newest first, filtered by status, priority or assignee', params: IdParams, querystring: ListTasksQuery, response: { 200: Page(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { channel } = await channelForMember(ctx.db, me, request.params.id);
    const { status, priority, assigneeId, cursor, limit = 50 } = request.query;
    const { page, pagination } = await pageOfTasks(ctx.db, { channelId: channel.id }, { status, priority, assigneeId, cursor, limit });
    return { data: await tasksToWire(ctx.db, page), pagination };
  });

  app.get('/channels/:id/tasks/:taskId', {
    config: { scope: 'read' },
    schema: { tags: ['tasks'], summary: 'One task', params: TaskParams, response: { 200: Data(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const { task } = await taskInChannel(ctx.db, caller(request).principal, request.params.id, request.params.taskId);
    return { data: await one(task) };
  });

  app.patch('/channels/:id/tasks/:taskId', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Change fields or status (status moves follow the transition table; an illegal one is 409)', params: TaskParams, body: UpdateTaskBody, response: { 200: Data(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { task } = await taskInChannel(ctx.db, me, request.params.id, request.params.taskId);
    return { data: (await updateTask(ctx, me, task.id, request.body)).task };
  });

  app.post('/channels/:id/tasks/:taskId/claim', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Claim an open task (atomic: one of any number of concurrent claimers wins, the others get 409)', params: TaskParams, response: { 200: Data(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { task } = await taskInChannel(ctx.db, me, request.params.id, request.params.taskId);
    return { data: await claimTask(ctx, me, task.id) };
  });

  app.post('/channels/:id/tasks/:taskId/assignees', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Assign a channel member to a task with a role (default `assignee`)', params: TaskParams, body: AddAssigneeBody, response: { 200: Data(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { task } = await taskInChannel(ctx.db, me, request.params.id, request.params.taskId);
    return { data: await addAssignee(ctx, me, task, request.body.principalId, request.body.role ?? 'assignee') };
  });

  app.delete('/channels/:id/tasks/:taskId/assignees/:principalId', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Remove an assignee', params: AssigneeParams, response: { 200: Data(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { task } = await taskInChannel(ctx.db, me, request.params.id, request.params.taskId);
    return { data: await removeAssignee(ctx, me, task, request.params.principalId) };
  });

  app.post('/channels/:id/tasks/:taskId/channel', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'A channel for this task (kind `task`; creator and assignees are its members); returns the existing one', params: TaskParams, response: { 200: Data(ChannelSchema), 201: Data(ChannelSchema), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const { task } = await taskInChannel(ctx.db, me, request.params.id, request.params.taskId);
    const { channel, created } = await createTaskChannel(ctx, me, task);
    reply.status(created ? 201 : 200);
    return { data: (await channelsToWire(ctx, [channel]))[0] };
  });

  // ---- the caller's work across the workspace, and task runs ---------------------------------

  app.get('/tasks', {
    config: { scope: 'read' },
    schema: { tags: ['tasks'], summary: 'Tasks across your channels: `assignee=me` for your work, filtered by status and priority', querystring: MyTasksQuery, response: { 200: Page(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { assignee, status, priority, cursor, limit = 50 } = request.query;
    const assigneeId = assignee === 'me' ? me.id : assignee;
    const { page, pagination } = await pageOfTasks(ctx.db, { memberId: me.id, workspaceId: me.workspace_id }, { status, priority, assigneeId, cursor, limit });
    return { data: await tasksToWire(ctx.db, page), pagination };
  });

  app.get('/tasks/:id', {
    config: { scope: 'read' },
    schema: { tags: ['tasks'], summary: 'One task by id', params: IdParams, response: { 200: Data(TaskSchema), ...errorResponses } },
  }, async (request) => {
    const { task } = await taskForMember(ctx.db, caller(request).principal, request.params.id);
    return { data: await one(task) };
  });

  app.post('/tasks/:id/events', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Append a run event (a UniversalEvent kind); `done` ends the run and moves the task to done, failed or canceled', params: IdParams, body: AppendTaskEventBody, response: { 201: Data(TaskEventSchema), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const { task } = await taskForMember(ctx.db, me, request.params.id);
    const event = validateRunEvent(request.body);
    reply.status(201);
    if (event.kind === 'done') {
      const status = DONE_TO_STATUS[event.data.status as keyof typeof DONE_TO_STATUS];
      const { runEvents } = await updateTask(ctx, me, task.id, { status }, event, { mustMove: true });
      return { data: runEvents[0] };
    }
    if (task.status === 'done' || task.status === 'failed' || task.status === 'canceled') {
      throw conflict(`The task is '${task.status}': its run has ended (retry starts a new one)`, { currentStatus: task.status });
    }
    const written = await ctx.db.transaction().execute(async (trx) => {
      const locked = await trx.selectFrom('tasks').selectAll().where('id', '=', task.id).forUpdate().executeTakeFirstOrThrow();
      if (locked.status === 'done' || locked.status === 'failed' || locked.status === 'canceled') throw conflict(`The task is '${locked.status}': its run has ended (retry starts a new one)`, { currentStatus: locked.status });
      return appendRunEvent(trx, locked, me, event);
    });
    publishRunEvents(ctx, task.id, [written]);
    return { data: written };
  });

  app.get('/tasks/:id/events', {
    config: { scope: 'read' },
    schema: { tags: ['tasks'], summary: 'Run events after `after` (every run), as JSON', params: IdParams, querystring: TaskEventsQuery, response: { 200: Data(Type.Array(TaskEventSchema)), ...errorResponses } },
  }, async (request) => {
    const { task } = await taskForMember(ctx.db, caller(request).principal, request.params.id);
    return { data: await readRunEvents(ctx.db, task.id, request.query.after ?? -1, request.query.limit ?? 500) };
  });

  app.get('/tasks/:id/stream', {
    config: { scope: 'read' },
    schema: { tags: ['tasks'], summary: 'Server-Sent Events: the task\'s run events, resumable with Last-Event-ID; ends after `done`', params: IdParams, querystring: StreamQuery, response: errorResponses },
  }, async (request, reply) => {
    const { task } = await taskForMember(ctx.db, caller(request).principal, request.params.id);
    const after = resumePoint(request, request.query.after);
    await serveTaskStream(request, reply, ctx, task, after, ctx.config.SESAME_TASK_STREAM_PING_MS);
  });

  app.post('/tasks/:id/permissions/:requestId', {
    config: { scope: 'write' },
    schema: { tags: ['tasks'], summary: 'Answer a permission request of the task\'s run (a human member or the task\'s creator)', params: PermissionParams, body: PermissionBody, response: { 201: Data(TaskEventSchema), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const { task } = await taskForMember(ctx.db, me, request.params.id);
    if (me.kind !== 'human' && me.id !== task.created_by) throw forbidden('Only a human member or the task\'s creator answers permission requests');
    const { requestId } = request.params;
    const written: TaskEvent = await ctx.db.transaction().execute(async (trx) => {
      const locked = await trx.selectFrom('tasks').selectAll().where('id', '=', task.id).forUpdate().executeTakeFirstOrThrow();
      const asked = await trx.selectFrom('task_events').select(['kind']).where('task_id', '=', task.id)
        .where('kind', 'in', ['permission_request', 'permission_response']).where((eb) => eb(eb.ref('data', '->>').key('requestId' as never), '=', requestId)).execute();
      if (!asked.some((e) => e.kind === 'permission_request')) throw notFound('Permission request');
      if (asked.some((e) => e.kind === 'permission_response')) throw conflict('This permission request was already answered');
      const { allow, reason } = request.body;
      return appendRunEvent(trx, locked, me, { kind: 'permission_response', data: { requestId, allow, ...(reason !== undefined ? { reason } : {}), respondedBy: me.id } });
    });
    publishRunEvents(ctx, task.id, [written]);
    reply.status(201);
    return { data: written };
  });

  for (const [action, run] of [['cancel', cancelTask], ['retry', retryTask]] as const) {
    app.post(`/tasks/:id/${action}`, {
      config: { scope: 'write' },
      schema: {
        tags: ['tasks'], params: IdParams, response: { 200: Data(TaskSchema), ...errorResponses },
        summary: action === 'cancel' ? 'Cancel a task (ends its run with `done`)' : 'Retry a failed or canceled task as a new run (earlier runs stay readable)',
      },
    }, async (request) => {
      const me = caller(request).principal;
      const { task } = await taskForMember(ctx.db, me, request.params.id);
      return { data: await run(ctx, me, task.id) };
    });
  }
}
