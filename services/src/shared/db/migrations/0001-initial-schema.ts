import { sql, type Kysely } from 'kysely';

/**
 * The foundation: tenancy, principals and credentials, channels and messages, the event log
 * that realtime replays from, read receipts and the audit chain.
 *
 * `streams.head_seq` is the per-stream counter. Every durable change increments it with
 * `UPDATE … RETURNING` inside its own transaction, which row-locks the stream until commit:
 * seq is gapless and strictly increasing per stream, and a message's `seq` is the seq of its
 * `message` event, so existing clients' replay cursors (keyed by channel id) just work.
 */
const up: string[] = [
  // Server-generated secrets (e.g. the JWT signing key when SESAME_JWT_SECRET is unset), shared
  // by every process that points at this database.
  `CREATE TABLE server_settings (
    key text PRIMARY KEY,
    value text NOT NULL
  )`,
  `CREATE TABLE workspaces (
    id text PRIMARY KEY,
    name text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE principals (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('human', 'agent')),
    handle text NOT NULL,
    display_name text NOT NULL,
    email text,
    public_key text,
    password_hash text,
    is_admin boolean NOT NULL DEFAULT false,
    read_receipt_emoji text NOT NULL DEFAULT '👀',
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, handle)
  )`,
  `CREATE UNIQUE INDEX principals_email_unique ON principals (lower(email)) WHERE email IS NOT NULL`,
  `CREATE TABLE api_keys (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    name text NOT NULL,
    prefix text NOT NULL,
    key_hash text NOT NULL UNIQUE,
    scopes jsonb NOT NULL DEFAULT '["*"]'::jsonb,
    rate_limit_per_minute integer,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX api_keys_principal ON api_keys (principal_id)`,
  `CREATE TABLE auth_challenges (
    nonce text PRIMARY KEY,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
  )`,
  `CREATE TABLE refresh_tokens (
    id text PRIMARY KEY,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE TABLE streams (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    head_seq bigint NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE channels (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('dm', 'group', 'channel', 'collaboration', 'task')),
    name text,
    description text,
    context text,
    dm_key text UNIQUE,
    created_by text NOT NULL REFERENCES principals(id),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX channels_workspace ON channels (workspace_id)`,
  `CREATE TABLE channel_members (
    channel_id text NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, principal_id)
  )`,
  `CREATE INDEX channel_members_principal ON channel_members (principal_id)`,
  `CREATE TABLE messages (
    id text PRIMARY KEY,
    channel_id text NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    workspace_id text NOT NULL,
    sender_id text NOT NULL REFERENCES principals(id),
    seq bigint NOT NULL,
    kind text NOT NULL,
    content text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    intent text,
    thread_root_id text,
    client_generated_id text,
    attachment_ids jsonb NOT NULL DEFAULT '[]'::jsonb,
    streaming boolean NOT NULL DEFAULT false,
    edited_at timestamptz,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel_id, seq),
    UNIQUE (channel_id, sender_id, client_generated_id)
  )`,
  `CREATE TABLE events (
    stream text NOT NULL,
    seq bigint NOT NULL,
    workspace_id text NOT NULL,
    type text NOT NULL,
    data jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, seq)
  )`,
  `CREATE TABLE read_receipts (
    channel_id text NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    last_read_seq bigint NOT NULL,
    emoji text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, principal_id)
  )`,
  `CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    workspace_id text NOT NULL,
    actor_id text,
    action text NOT NULL,
    target_type text,
    target_id text,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    at timestamptz NOT NULL DEFAULT now(),
    prev_hash text NOT NULL,
    hash text NOT NULL
  )`,
  `CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id)`,
  // Append-only: the audit chain refuses UPDATE and DELETE at the database level too.
  `CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
   BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$`,
  `CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
   FOR EACH ROW EXECUTE FUNCTION audit_log_immutable()`,
];

const down = [
  'DROP TABLE IF EXISTS audit_log', 'DROP FUNCTION IF EXISTS audit_log_immutable',
  'DROP TABLE IF EXISTS read_receipts', 'DROP TABLE IF EXISTS events',
  'DROP TABLE IF EXISTS messages', 'DROP TABLE IF EXISTS channel_members',
  'DROP TABLE IF EXISTS channels', 'DROP TABLE IF EXISTS streams',
  'DROP TABLE IF EXISTS refresh_tokens', 'DROP TABLE IF EXISTS auth_challenges',
  'DROP TABLE IF EXISTS api_keys', 'DROP TABLE IF EXISTS principals', 'DROP TABLE IF EXISTS workspaces',
  'DROP TABLE IF EXISTS server_settings',
];

async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export const initialSchema = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};
