import { sql, type Kysely } from 'kysely';

/**
 * Invites: once setup is complete, humans join a workspace by an admin's invite (a single-use,
 * expiring token stored as its SHA-256). And emails become unique per workspace, as handles are:
 * a server-wide index made signup and invites answer "taken" for an email held in another
 * workspace, which told anyone which emails other workspaces hold.
 */
const up = [
  `CREATE TABLE invites (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email text NOT NULL,
    is_admin boolean NOT NULL DEFAULT false,
    token_hash text NOT NULL UNIQUE,
    invited_by text REFERENCES principals(id) ON DELETE SET NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    accepted_at timestamptz,
    accepted_by text REFERENCES principals(id) ON DELETE SET NULL,
    revoked_at timestamptz
  )`,
  `CREATE INDEX invites_workspace ON invites (workspace_id, id)`,
  `DROP INDEX IF EXISTS principals_email_unique`,
  `CREATE UNIQUE INDEX principals_workspace_email_unique ON principals (workspace_id, lower(email)) WHERE email IS NOT NULL`,
  `CREATE INDEX principals_email ON principals (lower(email)) WHERE email IS NOT NULL`,
];

// Going down fails if two workspaces hold the same email by then, rather than dropping anyone.
const down = [
  'DROP INDEX IF EXISTS principals_email',
  'DROP INDEX IF EXISTS principals_workspace_email_unique',
  `CREATE UNIQUE INDEX principals_email_unique ON principals (lower(email)) WHERE email IS NOT NULL`,
  'DROP TABLE IF EXISTS invites',
];

export const invites = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
