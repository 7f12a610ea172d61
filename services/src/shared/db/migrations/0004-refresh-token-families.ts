import { sql, type Kysely } from 'kysely';

/**
 * Refresh-token families: every refresh token descended (by rotation) from one login shares a
 * family id, so presenting a token that was already rotated can revoke the whole family. Tokens
 * issued before this migration each start a family of their own.
 */
const up = [
  `ALTER TABLE refresh_tokens ADD COLUMN family_id text`,
  `UPDATE refresh_tokens SET family_id = id WHERE family_id IS NULL`,
  `ALTER TABLE refresh_tokens ALTER COLUMN family_id SET NOT NULL`,
  `CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`,
];

const down = [
  'DROP INDEX IF EXISTS refresh_tokens_family',
  'ALTER TABLE refresh_tokens DROP COLUMN IF EXISTS family_id',
];

export const refreshTokenFamilies = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, down),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
