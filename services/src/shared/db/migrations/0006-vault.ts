import { sql, type Kysely } from 'kysely';

/**
 * The vault service: vaults, their members, items whose field values are sealed with the
 * `vault` package's envelope encryption (a per-item data key wrapped by a master key that lives
 * outside the database), and just-in-time leases. Reveals and lease decisions are recorded in
 * the hash-chained `audit_log`; no table here holds a plaintext secret.
 */
const up = [
  `CREATE TABLE vaults (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name text NOT NULL,
    description text,
    masking_policy jsonb NOT NULL DEFAULT '{"alwaysMask":[],"neverMask":[]}'::jsonb,
    max_lease_ttl_seconds integer NOT NULL DEFAULT 3600 CHECK (max_lease_ttl_seconds > 0),
    created_by text REFERENCES principals(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX vaults_workspace ON vaults (workspace_id, id)`,
  `CREATE TABLE vault_members (
    vault_id text NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    principal_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer', 'requester')),
    added_by text REFERENCES principals(id) ON DELETE SET NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vault_id, principal_id)
  )`,
  `CREATE INDEX vault_members_principal ON vault_members (principal_id)`,
  `CREATE TABLE vault_items (
    id text PRIMARY KEY,
    vault_id text NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title text NOT NULL,
    type text NOT NULL CHECK (type IN ('login', 'api_key', 'secure_note', 'totp', 'database', 'ssh_key', 'custom')),
    hostname text,
    tags jsonb NOT NULL DEFAULT '[]'::jsonb,
    policy jsonb NOT NULL DEFAULT '{}'::jsonb,
    injection jsonb,
    sealed jsonb NOT NULL,
    key_version integer NOT NULL,
    created_by text REFERENCES principals(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE INDEX vault_items_vault ON vault_items (vault_id, id)`,
  `CREATE INDEX vault_items_hostname ON vault_items (workspace_id, lower(hostname)) WHERE hostname IS NOT NULL`,
  `CREATE INDEX vault_items_key_version ON vault_items (key_version)`,
  `CREATE TABLE vault_leases (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    vault_id text NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
    item_id text NOT NULL REFERENCES vault_items(id) ON DELETE CASCADE,
    requester_id text NOT NULL REFERENCES principals(id) ON DELETE CASCADE,
    reason text NOT NULL,
    hostname text,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'active', 'expired', 'revoked')),
    ttl_seconds integer NOT NULL,
    max_ttl_seconds integer NOT NULL,
    uses_allowed integer,
    uses_count integer NOT NULL DEFAULT 0,
    requested_at timestamptz NOT NULL,
    pending_expires_at timestamptz NOT NULL,
    decided_at timestamptz,
    decided_by text REFERENCES principals(id) ON DELETE SET NULL,
    decision_note text,
    activated_at timestamptz,
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    revoked_by text REFERENCES principals(id) ON DELETE SET NULL,
    ended_at timestamptz
  )`,
  `CREATE INDEX vault_leases_requester ON vault_leases (requester_id, item_id, status)`,
  `CREATE INDEX vault_leases_vault ON vault_leases (vault_id, status)`,
  `CREATE INDEX vault_leases_pending_due ON vault_leases (pending_expires_at) WHERE status = 'pending'`,
  `CREATE INDEX vault_leases_active_due ON vault_leases (expires_at) WHERE status IN ('approved', 'active')`,
];

const down = [
  'DROP TABLE IF EXISTS vault_leases',
  'DROP TABLE IF EXISTS vault_items',
  'DROP TABLE IF EXISTS vault_members',
  'DROP TABLE IF EXISTS vaults',
];

export const vault = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
