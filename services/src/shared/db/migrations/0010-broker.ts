import { sql, type Kysely } from 'kysely';

/**
 * Broker registration tokens: an admin hands one (`sesame-register:…`) to whoever sets up an
 * agent's device; `sesame login` spends it (single use, expiring) to register the device's
 * Ed25519 public key as a new agent. Stored as its SHA-256, shown once.
 */
const up = [
  `CREATE TABLE broker_registration_tokens (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    token_hash text NOT NULL UNIQUE,
    handle text,
    created_by text REFERENCES principals(id) ON DELETE SET NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    used_by text REFERENCES principals(id) ON DELETE SET NULL
  )`,
  `CREATE INDEX broker_registration_tokens_workspace ON broker_registration_tokens (workspace_id, id)`,
];

const down = ['DROP TABLE IF EXISTS broker_registration_tokens'];

export const broker = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
