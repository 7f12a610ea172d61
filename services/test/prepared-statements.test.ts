import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, executePrepared, type Db } from '../src/shared/db/database.js';
import { isDatabaseAnswer } from '../src/shared/db/errors.js';
import { createLogger } from '../src/shared/logger.js';
import { freshDatabase, type TestDatabase } from './support/context.js';
import { targets } from './support/targets.js';

describe.each(targets())('executePrepared on %s', (target) => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await freshDatabase(target);
    // One connection, so what it has prepared is visible to the next query.
    db = createDatabase({ databaseUrl: database.url, dataDir: database.dataDir, poolSize: 1, logger: createLogger('silent', 'test') });
  });
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });

  const sum = (a: number, b: number) => sql<{ v: number }>`SELECT ${a}::int + ${b}::int AS v, 1 / ${b}::int AS inverse`;

  it('answers as the query run by kysely does, at every call, and survives a failed execution', async () => {
    expect((await executePrepared(db, 'test_sum', sum(1, 2))).rows).toEqual((await sum(1, 2).execute(db)).rows);
    expect((await executePrepared(db, 'test_sum', sum(40, 2))).rows).toMatchObject([{ v: 42 }]);
    // Division by zero: an error the database answered; the statement stays usable.
    const failed = await executePrepared(db, 'test_sum', sum(1, 0)).catch((err: unknown) => err);
    expect(isDatabaseAnswer(failed)).toBe(true);
    expect((await executePrepared(db, 'test_sum', sum(5, 5))).rows).toMatchObject([{ v: 10 }]);
  });

  it('a socket error is not a database answer, whatever its code looks like (EPIPE is five capitals)', () => {
    const socketError = (code: string) => Object.assign(new Error(`write ${code}`), { code, errno: -32, syscall: 'write' });
    for (const code of ['EPIPE', 'EBADF', 'ECONNRESET', 'ETIMEDOUT']) expect(isDatabaseAnswer(socketError(code)), code).toBe(false);
    expect(isDatabaseAnswer(Object.assign(new Error('division by zero'), { code: '22012', severity: 'ERROR' }))).toBe(true);
  });

  it.skipIf(target !== 'postgres')('prepares the statement under its name on the connection (parsed once, not per call)', async () => {
    await executePrepared(db, 'test_sum', sum(1, 1));
    const prepared = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(db);
    expect(prepared.rows.map((r) => r.name)).toContain('test_sum');
  });
});
