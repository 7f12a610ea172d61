import { sql, type Kysely } from 'kysely';

/**
 * Agent intelligence and tasks: the capabilities an agent registers (`namespace.name`, unique per
 * agent), tasks per channel with their assignees, the run events of a task (a per-task gapless
 * `seq`, allocated by `UPDATE tasks SET next_event_seq = next_event_seq + 1`, whose row lock
 * serialises appenders of one task until commit), and the link from a task channel to its task.
 */
const up = [
  `CREATE TABLE agent_capabilities (
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    namespace text NOT NULL,
    name text NOT NULL,
    description text,
    input_schema jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, namespace, name)
  )`,
  `CREATE INDEX agent_capabilities_lookup ON agent_capabilities (workspace_id, namespace, name)`,
  `CREATE TABLE tasks (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    channel_id text NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    title text NOT NULL,
    description text,
    status text NOT NULL DEFAULT 'open'
      CHECK (status IN ('open', 'claimed', 'in_progress', 'blocked', 'input_required', 'done', 'failed', 'canceled')),
    priority text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    labels jsonb NOT NULL DEFAULT '[]'::jsonb,
    due_at timestamptz,
    created_by text NOT NULL REFERENCES principals(id),
    claimed_by text REFERENCES principals(id) ON DELETE SET NULL,
    task_channel_id text REFERENCES channels(id) ON DELETE SET NULL,
    run integer NOT NULL DEFAULT 1,
    next_event_seq bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
  )`,
  `CREATE INDEX tasks_channel ON tasks (channel_id, created_at, id)`,
  `CREATE TABLE task_assignees (
    task_id text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    role text NOT NULL,
    assigned_by text REFERENCES principals(id) ON DELETE SET NULL,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, principal_id)
  )`,
  `CREATE INDEX task_assignees_principal ON task_assignees (principal_id)`,
  `CREATE TABLE task_events (
    task_id text NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    run integer NOT NULL,
    kind text NOT NULL,
    data jsonb NOT NULL,
    author_id text REFERENCES principals(id) ON DELETE SET NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, seq)
  )`,
  `ALTER TABLE channels ADD COLUMN task_id text REFERENCES tasks(id) ON DELETE SET NULL`,
];

const down = [
  'ALTER TABLE channels DROP COLUMN IF EXISTS task_id',
  'DROP TABLE IF EXISTS task_events',
  'DROP TABLE IF EXISTS task_assignees',
  'DROP TABLE IF EXISTS tasks',
  'DROP TABLE IF EXISTS agent_capabilities',
];

export const tasks = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
