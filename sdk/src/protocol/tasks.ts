/**
 * Tasks and task runs on the wire: the task object, its status transition table (which the api
 * enforces and the SDK exports, one definition for both), and the run events of the task stream
 * (`GET /api/v1/tasks/:id/stream`), the UniversalEvent kinds of the task reference.
 */

export const TASK_STATUSES = ['open', 'claimed', 'in_progress', 'blocked', 'input_required', 'done', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/**
 * Which status may follow which (`updateTask`, `claimTask`, `cancel`). `open → claimed` is what
 * `claimTask` does; `open → in_progress` lets the creator or an assignee start without claiming.
 * `done`, `failed` and `canceled` are final for `updateTask`: only `retry` (from `failed` or
 * `canceled`) opens a task again, as a new run. Anything else is a `409` naming both states.
 */
export const TASK_TRANSITIONS: { readonly [S in TaskStatus]: readonly TaskStatus[] } = {
  open: ['claimed', 'in_progress', 'canceled'],
  claimed: ['open', 'in_progress', 'canceled'],
  in_progress: ['blocked', 'input_required', 'done', 'failed', 'canceled'],
  blocked: ['in_progress', 'failed', 'canceled'],
  input_required: ['in_progress', 'failed', 'canceled'],
  done: [],
  failed: [],
  canceled: [],
};

/** Statuses `retry` starts a new run from. */
export const TASK_RETRYABLE: readonly TaskStatus[] = ['failed', 'canceled'];

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

export interface TaskAssignee {
  principalId: string;
  /** Free-form: `owner` for the claimer, or what `addTaskAssignee` gave (`reviewer`, …). */
  role: string;
  assignedBy: string | null;
  assignedAt: string;
}

export interface Task {
  id: string;
  workspaceId: string;
  channelId: string;
  title: string;
  description: string | null;
  status: TaskStatus;
  priority: TaskPriority;
  labels: string[];
  dueAt: string | null;
  createdBy: string;
  /** Who won `claimTask`; null while open. */
  claimedBy: string | null;
  assignees: TaskAssignee[];
  /** The dedicated channel `createTaskChannel` made, if any. */
  taskChannelId: string | null;
  /** The run number: 1, plus one per `retry`. */
  run: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

// ---- run events (the task stream) ----------------------------------------------------------

export const TASK_EVENT_KINDS = [
  'message', 'tool_call', 'tool_result', 'thinking', 'permission_request', 'permission_response', 'status', 'error', 'log', 'done',
] as const;
export type TaskEventKind = (typeof TASK_EVENT_KINDS)[number];

export interface ToolCall {
  callId: string;
  name: string;
  input?: Record<string, unknown>;
  state?: 'pending' | 'running' | 'completed' | 'failed';
  description?: string | null;
  /** Epoch milliseconds, as in the task reference. */
  createdAt?: number | null;
  startedAt?: number | null;
  completedAt?: number | null;
}
export const TASK_LOG_TYPES = ['debug', 'info', 'warn', 'error'] as const;
export const TASK_DONE_STATUSES = ['completed', 'failed', 'canceled'] as const;

/** What `appendTaskEvent` sends: one of these, by `kind`. */
export type TaskEventInput =
  | { kind: 'message'; textDelta?: string; fullText?: string }
  | { kind: 'tool_call'; toolCall: ToolCall }
  | { kind: 'tool_result'; callId: string; output?: unknown; isError?: boolean }
  | { kind: 'thinking'; thinkingText: string }
  | { kind: 'permission_request'; requestId: string; description?: string; toolCall?: ToolCall }
  | { kind: 'status'; status: string; progress?: number }
  | { kind: 'error'; error: string; code?: string }
  | { kind: 'log'; logType: (typeof TASK_LOG_TYPES)[number]; logMessage: string }
  /** Ends the run and moves the task to `done`, `failed` or `canceled`. */
  | { kind: 'done'; status: (typeof TASK_DONE_STATUSES)[number] };

/** `respondToPermission` writes this one (never `appendTaskEvent`). */
export interface PermissionResponse { kind: 'permission_response'; requestId: string; allow: boolean; reason?: string; respondedBy: string }

/**
 * One event of the task stream: the SSE `data:` of `event: event`, `{seq, kind, timestamp, …}`.
 * `seq` starts at 0 and is gapless per task across runs; `run` says which run wrote it.
 */
export type TaskEvent = (TaskEventInput | PermissionResponse) & {
  seq: number;
  timestamp: string;
  run: number;
  /** Who appended it. */
  authorId: string | null;
};

// ---- capabilities, discovery, agent card ---------------------------------------------------

/** `discoverAgents`: an agent of your workspace and what it registered, online ones first. */
export interface DiscoveredAgent {
  id: string;
  handle: string;
  displayName: string;
  online: boolean;
  capabilities: { namespace: string; name: string; description?: string; inputSchema?: Record<string, unknown> }[];
}

/** `GET /agents/:id/card`: an A2A-style agent card. */
export interface AgentCard {
  id: string;
  name: string;
  description: string;
  handle: string;
  skills: { id: string; name: string; description: string; tags: string[]; inputSchema?: Record<string, unknown> }[];
}
