import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../src/shared/config.js';
import { createDatabase, poolStateOf } from '../src/shared/db/database.js';
import { createLogger } from '../src/shared/logger.js';
import { createContext } from '../src/server.js';
import { freshDatabase } from './support/context.js';
import { targets } from './support/targets.js';

describe.each(targets().filter((target) => target === 'postgres'))('database pool on %s', (target) => {
  it('DATABASE_POOL_MIN reaches the pool, whose kept connections are open from the start', async () => {
    const database = await freshDatabase(target);
    const config = loadConfig({
      LOG_LEVEL: 'silent', NODE_ENV: 'test', SESAME_JWT_SECRET: randomBytes(32).toString('base64url'),
      DATABASE_URL: database.url ?? '', DATABASE_POOL_SIZE: '6', DATABASE_POOL_MIN: '3',
    });
    const ctx = await createContext(config, 'test');
    try {
      expect(poolStateOf(ctx.db)).toMatchObject({ min: 3, max: 6 });
      // Opened at start, not by a burst of queries: three connections without any query beyond the migrations'.
      await vi.waitFor(() => { expect(poolStateOf(ctx.db)?.idle).toBeGreaterThanOrEqual(3); });
    } finally {
      await ctx.bus.close();
      await ctx.db.destroy();
      await database.drop();
    }
  });

  it('keeps two by default, and never more than the pool size', async () => {
    const base = { SESAME_JWT_SECRET: randomBytes(32).toString('base64url') };
    expect(loadConfig(base).DATABASE_POOL_MIN).toBe(2);
    expect(loadConfig({ ...base, DATABASE_POOL_MIN: '0' }).DATABASE_POOL_MIN).toBe(0);
    const database = await freshDatabase(target);
    const db = createDatabase({ databaseUrl: database.url, poolSize: 2, poolMin: 5, logger: createLogger('silent', 'test') });
    try {
      expect(poolStateOf(db)).toMatchObject({ min: 2, max: 2 });
      // Its connections are open (and idle in the pool) before the database is dropped under them.
      await vi.waitFor(() => { expect(poolStateOf(db)).toMatchObject({ open: 2, idle: 2 }); });
    } finally {
      // Kysely's destroy() ends the pool only once a query has run through it.
      await sql`SELECT 1`.execute(db);
      await db.destroy();
      expect(poolStateOf(db)).toMatchObject({ open: 0 });
      await database.drop();
    }
  });
});
