import { sql } from 'kysely';
import type { Db } from '../../src/shared/db/database.js';

/**
 * Counts the `operation` statements run on the messages table (statements, not rows), with a
 * statement-level trigger: how tests see that a batch took fewer statements than its callers.
 * Returns the counter; `name` keeps counters of one database apart.
 */
export async function countMessageStatements(db: Db, name: string, operation: 'INSERT' | 'UPDATE'): Promise<() => Promise<number>> {
  const table = `test_${name}_statements`;
  for (const statement of [
    `CREATE TABLE ${table} (n int NOT NULL)`,
    `CREATE FUNCTION test_count_${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${table} VALUES (1); RETURN NULL; END $$`,
    `CREATE TRIGGER test_count_${name} AFTER ${operation} ON messages FOR EACH STATEMENT EXECUTE FUNCTION test_count_${name}()`,
  ]) await sql.raw(statement).execute(db);
  return async () => Number((await sql<{ n: number | string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(db)).rows[0].n);
}
