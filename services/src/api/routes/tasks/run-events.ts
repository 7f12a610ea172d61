import { TASK_DONE_STATUSES, TASK_LOG_TYPES, type TaskEvent, type TaskEventKind } from '@sesamespace/sdk/protocol';
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { ServiceContext } from '../../../shared/context.js';
import type { Db } from '../../../shared/db/database.js';
import type { Principal, TaskRow } from '../../../shared/db/schema.js';
import { badRequest, unprocessable } from '../../../shared/errors.js';
import type { Trx } from '../../../shared/events.js';
import { Nullable, Text } from '../../../shared/http/schemas.js';
import { literals } from './schemas.js';

/** The bus topic live run events of one task travel on (never a channel or inbox stream). */
export function taskRunTopic(taskId: string): string {
  return `task-run:${taskId}`;
}

const Short = (maxLength: number) => Text({ maxLength });
const Millis = Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })));
const ToolCall = Type.Object({
  callId: Short(200), name: Short(200), input: Type.Optional(Type.Object({}, { additionalProperties: true })),
  state: Type.Optional(literals(['pending', 'running', 'completed', 'failed'])), description: Type.Optional(Nullable(Short(2000))),
  createdAt: Millis, startedAt: Millis, completedAt: Millis,
}, { additionalProperties: false });
const shape = (properties: Record<string, TSchema>) => Type.Object({ kind: Type.String(), ...properties }, { additionalProperties: false });

/** The fields each kind carries (`permission_response` is written by `respondToPermission` only). */
const KIND_SCHEMAS: { [K in Exclude<TaskEventKind, 'permission_response'>]: TSchema } = {
  message: shape({ textDelta: Type.Optional(Short(64_000)), fullText: Type.Optional(Short(64_000)) }),
  tool_call: shape({ toolCall: ToolCall }),
  tool_result: shape({ callId: Short(200), output: Type.Optional(Type.Unknown()), isError: Type.Optional(Type.Boolean()) }),
  thinking: shape({ thinkingText: Short(64_000) }),
  permission_request: shape({ requestId: Text({ minLength: 1, maxLength: 200 }), description: Type.Optional(Short(2000)), toolCall: Type.Optional(ToolCall) }),
  status: shape({ status: Text({ minLength: 1, maxLength: 100 }), progress: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })) }),
  error: shape({ error: Text({ minLength: 1, maxLength: 8000 }), code: Type.Optional(Short(100)) }),
  log: shape({ logType: literals(TASK_LOG_TYPES), logMessage: Short(16_000) }),
  done: shape({ status: literals(TASK_DONE_STATUSES) }),
};

export interface RunEventWrite { kind: TaskEventKind; data: Record<string, unknown> }

/** Checks an appended event against its kind; a `400` names the first field that is wrong. */
export function validateRunEvent(body: { kind: string } & Record<string, unknown>): RunEventWrite {
  const kind = body.kind as TaskEventKind;
  if (kind === 'permission_response') throw unprocessable('kind: permission_response is written by POST /tasks/:id/permissions/:requestId (respondToPermission)');
  const schema = KIND_SCHEMAS[kind];
  const error = Value.Errors(schema, body).First();
  if (error) throw badRequest(`body${error.path}: ${error.message} (kind '${kind}')`, { errors: [{ path: `body${error.path}`, message: error.message }] });
  if (kind === 'message' && body.textDelta === undefined && body.fullText === undefined) throw badRequest("body: a 'message' event needs textDelta or fullText");
  const { kind: _kind, ...data } = body;
  return { kind, data };
}

type EventRow = { seq: number | string; run: number; kind: string; data: Record<string, unknown>; author_id: string | null; at: Date | string };

function runEventToWire(row: EventRow): TaskEvent {
  return { seq: Number(row.seq), kind: row.kind, timestamp: new Date(row.at).toISOString(), ...row.data, run: row.run, authorId: row.author_id } as TaskEvent;
}

/**
 * Appends a run event in `trx`: the task row's `next_event_seq` is taken with `UPDATE … RETURNING`,
 * whose row lock serialises appenders of one task until commit, so `seq` is gapless per task.
 */
export async function appendRunEvent(trx: Trx, task: TaskRow, me: Principal, event: RunEventWrite): Promise<TaskEvent> {
  const { next_event_seq } = await trx.updateTable('tasks').set((eb) => ({ next_event_seq: eb('next_event_seq', '+', 1) }))
    .where('id', '=', task.id).returning('next_event_seq').executeTakeFirstOrThrow();
  const seq = next_event_seq - 1;
  const at = new Date();
  await trx.insertInto('task_events').values({ task_id: task.id, seq, run: task.run, kind: event.kind, data: JSON.stringify(event.data), author_id: me.id, at }).execute();
  return runEventToWire({ seq, run: task.run, kind: event.kind, data: event.data, author_id: me.id, at });
}

/** Publishes committed run events for live readers; a lost publish is repaired by their next read. */
export function publishRunEvents(ctx: ServiceContext, taskId: string, events: TaskEvent[]): void {
  for (const event of events) {
    ctx.bus.publish(taskRunTopic(taskId), { kind: 'event', event: { type: 'task.run_event', stream: taskRunTopic(taskId), seq: event.seq, data: event, at: event.timestamp } })
      .catch((err: unknown) => { ctx.logger.warn({ err, taskId }, 'task run event publish failed'); });
  }
}

/** Run events of a task after `after` (−1: from the first), in seq order. */
export async function readRunEvents(db: Db, taskId: string, after: number, limit: number): Promise<TaskEvent[]> {
  const rows = await db.selectFrom('task_events').select(['seq', 'run', 'kind', 'data', 'author_id', 'at'])
    .where('task_id', '=', taskId).where('seq', '>', after).orderBy('seq').limit(limit).execute();
  return rows.map(runEventToWire);
}

