import { sql, type Kysely } from 'kysely';

/**
 * Agent-initiated registration (`sesame login` without a token, modelled on the OAuth 2.0
 * Device Authorization Grant, RFC 8628): a device opens a claim with its Ed25519 public key and
 * gets a secret device code (stored as its SHA-256) and a short user code; a workspace admin
 * approves or denies the user code in the console. An unbound pending claim belongs to no
 * workspace; the deciding admin's workspace becomes its own. Registration tokens (and claim
 * approvals) may also grant vault memberships to the agent they register.
 */
const up = [
  `ALTER TABLE broker_registration_tokens ADD COLUMN vault_grants jsonb NOT NULL DEFAULT '[]'`,
  `CREATE TABLE broker_claims (
    id text PRIMARY KEY,
    device_code_hash text NOT NULL UNIQUE,
    user_code text NOT NULL UNIQUE,
    public_key text NOT NULL,
    handle text,
    display_name text,
    requester_address text NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied')),
    poll_interval_seconds integer NOT NULL,
    last_polled_at timestamptz,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    workspace_id text REFERENCES workspaces(id) ON DELETE CASCADE,
    decided_by text REFERENCES principals(id) ON DELETE SET NULL,
    decided_at timestamptz,
    deny_reason text,
    principal_id text REFERENCES principals(id) ON DELETE SET NULL,
    redeemed_at timestamptz
  )`,
  `CREATE INDEX broker_claims_pending ON broker_claims (status, expires_at)`,
  `CREATE INDEX broker_claims_workspace ON broker_claims (workspace_id, created_at)`,
];

const down = [
  'DROP TABLE IF EXISTS broker_claims',
  'ALTER TABLE broker_registration_tokens DROP COLUMN IF EXISTS vault_grants',
];

export const brokerClaims = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
