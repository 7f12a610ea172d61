import { TASK_EVENT_KINDS, TASK_PRIORITIES, TASK_STATUSES } from '@sesamespace/sdk/protocol';
import { Type, type TLiteral, type TUnion } from '@sinclair/typebox';
import { BOUNDED_JSON_KEYWORD, Id, Nullable, PageQuery, SafeInteger, Text } from '../../../shared/http/schemas.js';

/** A union of the protocol's string constants, typed as that union (TypeBox types a mapped array as `string`). */
export const literals = <const T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v))) as unknown as TUnion<{ -readonly [K in keyof T]: TLiteral<T[K]> }>;
const TaskStatusSchema = literals(TASK_STATUSES);
const Priority = literals(TASK_PRIORITIES);
const Label = Text({ minLength: 1, maxLength: 50 });
/** A role on a task: lowercase words (`owner`, `reviewer`, `qa-lead`). */
const Role = Type.String({ minLength: 1, maxLength: 50, pattern: '^[a-z][a-z0-9_-]*$' });

const AssigneeSchema = Type.Object({ principalId: Type.String(), role: Type.String(), assignedBy: Nullable(Type.String()), assignedAt: Type.String() });
export const TaskSchema = Type.Object({
  id: Type.String(), workspaceId: Type.String(), channelId: Type.String(), title: Type.String(), description: Nullable(Type.String()),
  status: TaskStatusSchema, priority: Priority, labels: Type.Array(Type.String()), dueAt: Nullable(Type.String()),
  createdBy: Type.String(), claimedBy: Nullable(Type.String()), assignees: Type.Array(AssigneeSchema), taskChannelId: Nullable(Type.String()),
  run: Type.Integer(), createdAt: Type.String(), updatedAt: Type.String(), completedAt: Nullable(Type.String()),
}, { $id: 'Task' });

export const TaskParams = Type.Object({ id: Id, taskId: Id }, { additionalProperties: false });
export const AssigneeParams = Type.Object({ id: Id, taskId: Id, principalId: Id }, { additionalProperties: false });

export const CreateTaskBody = Type.Object({
  title: Text({ minLength: 1, maxLength: 500 }),
  description: Type.Optional(Text({ maxLength: 20_000 })),
  priority: Type.Optional(Priority),
  dueAt: Type.Optional(Type.String({ format: 'date-time' })),
  labels: Type.Optional(Type.Array(Label, { maxItems: 20, uniqueItems: true })),
}, { additionalProperties: false });

export const UpdateTaskBody = Type.Object({
  title: Type.Optional(Text({ minLength: 1, maxLength: 500 })),
  description: Type.Optional(Nullable(Text({ maxLength: 20_000 }))),
  priority: Type.Optional(Priority),
  dueAt: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
  labels: Type.Optional(Type.Array(Label, { maxItems: 20, uniqueItems: true })),
  status: Type.Optional(TaskStatusSchema),
}, { additionalProperties: false, minProperties: 1 });

export const ListTasksQuery = Type.Object({
  status: Type.Optional(TaskStatusSchema), priority: Type.Optional(Priority), assigneeId: Type.Optional(Id), ...PageQuery,
}, { additionalProperties: false });

export const MyTasksQuery = Type.Object({
  assignee: Type.Optional(Type.Union([Type.Literal('me'), Id])), status: Type.Optional(TaskStatusSchema), priority: Type.Optional(Priority), ...PageQuery,
}, { additionalProperties: false });

export const AddAssigneeBody = Type.Object({ principalId: Id, role: Type.Optional(Role) }, { additionalProperties: false });

// ---- run events ------------------------------------------------------------------------------

/**
 * The body of `POST /tasks/:id/events`: `kind` picks the shape, checked per kind by `run-events.ts`
 * (one error naming the field, rather than a union's list of every branch that did not match).
 */
export const AppendTaskEventBody = Type.Object({ kind: literals(TASK_EVENT_KINDS) }, {
  additionalProperties: true, [BOUNDED_JSON_KEYWORD]: { maxDepth: 16, maxBytes: 64 * 1024 },
});
export const TaskEventSchema = Type.Object({
  seq: Type.Integer(), kind: Type.String(), timestamp: Type.String(), run: Type.Integer(), authorId: Nullable(Type.String()),
}, { additionalProperties: true, $id: 'TaskEvent' });
export const TaskEventsQuery = Type.Object({
  after: Type.Optional(SafeInteger({ minimum: -1 })), limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 1000 })),
}, { additionalProperties: false });
export const StreamQuery = Type.Object({ after: Type.Optional(SafeInteger({ minimum: -1 })) }, { additionalProperties: false });
export const PermissionParams = Type.Object({ id: Id, requestId: Text({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
export const PermissionBody = Type.Object({ allow: Type.Boolean(), reason: Type.Optional(Text({ maxLength: 2000 })) }, { additionalProperties: false });
