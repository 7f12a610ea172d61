import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { ConnectionWatch } from '../connection-watch.js';
import type { Logger } from '../logger.js';
import { LockedPGliteDialect } from './pglite-dialect.js';
import { watchPool } from '../metrics.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

// int8 → number everywhere: seqs and counters stay below 2^53, and JSON clients expect numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseTarget {
  /** `postgres://…` for real Postgres; otherwise PGlite persisted under `dataDir`. */
  databaseUrl?: string;
  /** Directory for the embedded PGlite database, or `memory://` for an in-memory one. */
  dataDir?: string;
  /** Pool size for real Postgres. */
  poolSize?: number;
  /** Where Postgres connection loss and recovery are logged. */
  logger: Logger;
}

export function createDatabase(target: DatabaseTarget): Db {
  if (target.databaseUrl) {
    // TCP keepalive: a connection whose server vanished mid-statement (a failover, a dropped NAT
    // entry) errors after the kernel's probes instead of waiting for its answer for ever.
    const pool = new pg.Pool({ connectionString: target.databaseUrl, max: target.poolSize ?? 10, keepAlive: true });
    // An idle client error (e.g. Postgres restarted) must not crash the process; the pool
    // drops that client and the next query reconnects. Logged once per outage, and the next
    // successful connection after it once.
    const watch = new ConnectionWatch(target.logger, { backend: 'postgres', role: 'pool' }, target.databaseUrl);
    pool.on('error', (err) => { watch.down(err); });
    pool.on('connect', () => { watch.up(); });
    watchPool(pool);
    return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
  const dataDir = target.dataDir ?? '.sesame/db';
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir, { parsers: { 20: (value: string) => Number(value) } });
  return new Kysely<Database>({ dialect: new LockedPGliteDialect(client) });
}
