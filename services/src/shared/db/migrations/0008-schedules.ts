import { sql, type Kysely } from 'kysely';

/**
 * Schedules: an agent's timed jobs (cron, fixed interval or one-shot) and what happened at each
 * run. `external_id` is the agent's own job id, unique per agent, so `syncSchedule` upserts.
 * `(event_id, scheduled_at)` is unique: recording a run twice (a retry, or the agent reporting a
 * run the worker had already marked `missed`) updates the one row.
 */
const up = [
  `CREATE TABLE schedule_events (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    agent_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    external_id text,
    title text NOT NULL,
    description text,
    cron_expression text,
    interval_ms bigint,
    timezone text NOT NULL DEFAULT 'UTC',
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'cancelled', 'completed')),
    max_occurrences integer,
    occurrence_count integer NOT NULL DEFAULT 0,
    next_occurrence_at timestamptz,
    anchor_at timestamptz,
    channel_id text REFERENCES channels(id) ON DELETE SET NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (cron_expression IS NULL OR interval_ms IS NULL)
  )`,
  `CREATE UNIQUE INDEX schedule_events_agent_external ON schedule_events (agent_id, external_id) WHERE external_id IS NOT NULL`,
  `CREATE INDEX schedule_events_workspace ON schedule_events (workspace_id, agent_id, id)`,
  `CREATE INDEX schedule_events_due ON schedule_events (next_occurrence_at) WHERE status = 'active'`,
  `CREATE TABLE schedule_occurrences (
    id text PRIMARY KEY,
    event_id text NOT NULL REFERENCES schedule_events(id) ON DELETE CASCADE,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    scheduled_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('completed', 'skipped', 'failed', 'missed')),
    result text,
    duration_ms bigint,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, scheduled_at)
  )`,
  `CREATE INDEX schedule_occurrences_workspace_time ON schedule_occurrences (workspace_id, scheduled_at)`,
];

const down = [
  'DROP TABLE IF EXISTS schedule_occurrences',
  'DROP TABLE IF EXISTS schedule_events',
];

export const schedules = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
