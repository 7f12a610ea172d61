import { sql, type Kysely } from 'kysely';

/** Files ("drive"): metadata here, bytes in the blob store (local disk or S3-compatible). */
const up = [
  `CREATE TABLE files (
    id text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    uploader_id text NOT NULL REFERENCES principals(id),
    s3_key text NOT NULL UNIQUE,
    file_name text NOT NULL,
    content_type text NOT NULL,
    size bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'uploaded', 'registered')),
    channel_id text REFERENCES channels(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    uploaded_at timestamptz
  )`,
  `CREATE INDEX files_workspace ON files (workspace_id)`,
];

export const driveFiles = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, ['DROP TABLE IF EXISTS files']),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
