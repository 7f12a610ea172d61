import { sql, type Kysely } from 'kysely';

/**
 * Webhooks. Deliveries are made from the `events` table: a per-stream cursor records how far the
 * worker has fanned events out into `webhook_deliveries` (one row per endpoint and event, with the
 * exact body signed on every attempt), so nothing waits in a queue that a crash could lose.
 * Signing secrets live in their own table: a rotation adds a row and gives the previous one an
 * expiry, and both sign until then.
 */
const up = [
  `CREATE TABLE webhooks (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    owner_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    url text NOT NULL,
    description text,
    event_types jsonb NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    disabled_at timestamptz,
    failing_since timestamptz,
    exhausted_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX webhooks_workspace ON webhooks (workspace_id, id)`,
  `CREATE TABLE webhook_secrets (
    id bigserial PRIMARY KEY,
    webhook_id text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    secret text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
  )`,
  `CREATE INDEX webhook_secrets_webhook ON webhook_secrets (webhook_id)`,
  `CREATE TABLE webhook_stream_cursors (
    stream text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    last_seq bigint NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE webhook_deliveries (
    id text PRIMARY KEY,
    webhook_id text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    workspace_id text NOT NULL,
    message_id text NOT NULL,
    event_stream text,
    event_seq bigint,
    event_type text NOT NULL,
    event_at timestamptz NOT NULL,
    body text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
    attempt_count integer NOT NULL DEFAULT 0,
    retry_step integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until timestamptz,
    last_status_code integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_stream, event_seq)
  )`,
  `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at) WHERE status = 'pending'`,
  `CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at, id)`,
  `CREATE TABLE webhook_attempts (
    id bigserial PRIMARY KEY,
    delivery_id text NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    status_code integer,
    latency_ms integer NOT NULL,
    error text,
    response_excerpt text
  )`,
  `CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id)`,
];

const down = [
  'DROP TABLE IF EXISTS webhook_attempts',
  'DROP TABLE IF EXISTS webhook_deliveries',
  'DROP TABLE IF EXISTS webhook_stream_cursors',
  'DROP TABLE IF EXISTS webhook_secrets',
  'DROP TABLE IF EXISTS webhooks',
];

export const webhooks = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
