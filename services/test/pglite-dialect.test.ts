import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockedPGliteDialect } from '../src/shared/db/pglite-dialect.js';

/**
 * The embedded default's driver prepares each statement kysely builds once, under a name, and
 * runs it later with one batched message: what it returns must be what `PGlite.query()` would
 * have, across types, errors, schema changes and many distinct statements.
 */
describe('PGlite dialect (prepared statements, one call per execution)', () => {
  let client: PGlite;
  let db: Kysely<any>;

  beforeEach(async () => {
    client = new PGlite('memory://', { parsers: { 20: (value: string) => Number(value) } });
    db = new Kysely({ dialect: new LockedPGliteDialect(client) });
    await sql`CREATE TABLE t (id text PRIMARY KEY, at timestamptz, doc jsonb, flag boolean, n int8, tags text[])`.execute(db);
  });
  afterEach(async () => { await db.destroy(); });

  const preparedCount = async () => (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0]?.n;

  it('binds and parses each type as PGlite.query() does, on the first execution and on the prepared one', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    for (const id of ['a', 'b']) {
      await db.insertInto('t').values({ id, at, doc: JSON.stringify({ k: [1, 'two'] }), flag: id === 'a', n: 2 ** 40, tags: ['x', 'y,z'] }).execute();
    }
    await db.insertInto('t').values({ id: 'c', at: null, doc: null, flag: null, n: null, tags: null }).execute();
    for (let i = 0; i < 2; i++) {
      const rows = await db.selectFrom('t').selectAll().where('id', 'in', ['a', 'b', 'c']).where((eb) => eb.or([eb('flag', '=', true), eb('flag', '=', false), eb('flag', 'is', null)])).orderBy('id').execute();
      expect(rows).toEqual([
        { id: 'a', at, doc: { k: [1, 'two'] }, flag: true, n: 2 ** 40, tags: ['x', 'y,z'] },
        { id: 'b', at, doc: { k: [1, 'two'] }, flag: false, n: 2 ** 40, tags: ['x', 'y,z'] },
        { id: 'c', at: null, doc: null, flag: null, n: null, tags: null },
      ]);
      expect(await client.query('SELECT * FROM t ORDER BY id')).toMatchObject({ rows });
    }
    const later = await db.selectFrom('t').select('id').where('at', '<', new Date('2027-01-01T00:00:00Z')).where(sql<boolean>`tags @> ${sql.val(['y,z'])}`).orderBy('id').execute();
    expect(later.map((r) => r.id)).toEqual(['a', 'b']);
    const updated = await db.updateTable('t').set({ flag: true }).where('id', '!=', 'c').executeTakeFirst();
    expect(updated.numUpdatedRows).toBe(2n);
  });

  it('keeps the session usable after a failed statement, inside a transaction and outside', async () => {
    await db.insertInto('t').values({ id: 'a' }).execute();
    await expect(db.insertInto('t').values({ id: 'a' }).execute()).rejects.toMatchObject({ code: '23505' });
    await expect(sql`SELEC 1`.execute(db)).rejects.toMatchObject({ code: '42601' });
    await expect(db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 'b' }).execute();
      await trx.insertInto('t').values({ id: 'a' }).execute();
    })).rejects.toMatchObject({ code: '23505' });
    expect((await db.selectFrom('t').select('id').execute()).map((r) => r.id)).toEqual(['a']);
    await db.insertInto('t').values({ id: 'b' }).execute();
    expect(await db.selectFrom('t').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()).toEqual({ n: 2 });
  });

  it('sees a schema change in a statement prepared before it (migrations, or DDL run by a function)', async () => {
    await db.insertInto('t').values({ id: 'a' }).execute();
    const all = () => db.selectFrom('t').selectAll().where('id', '=', 'a').executeTakeFirst();
    expect(await all()).not.toHaveProperty('extra');
    await sql`ALTER TABLE t ADD COLUMN extra text DEFAULT 'x'`.execute(db);
    expect(await all()).toMatchObject({ extra: 'x' });
    // DDL the driver cannot see (inside a function): the stale plan is prepared again.
    await sql`CREATE FUNCTION widen() RETURNS void LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE t ADD COLUMN more int DEFAULT 7; END $$`.execute(db);
    await sql`SELECT widen()`.execute(db);
    expect(await all()).toMatchObject({ extra: 'x', more: 7 });
  });

  it('keeps a bounded number of prepared statements however many distinct statements run', async () => {
    for (let i = 0; i < 300; i++) {
      const row = await db.selectFrom('t').select(sql<number>`${sql.lit(i)}::int`.as('i')).unionAll(db.selectNoFrom(sql<number>`${i}::int`.as('i'))).execute();
      expect(row).toEqual([{ i }]);
    }
    expect(await preparedCount()).toBeLessThanOrEqual(257);
    // The statements still prepared run as before, the closed ones are prepared again.
    expect(await db.selectFrom('t').select(sql<number>`${sql.lit(0)}::int`.as('i')).unionAll(db.selectNoFrom(sql<number>`${0}::int`.as('i'))).execute()).toEqual([{ i: 0 }]);
  });
});
