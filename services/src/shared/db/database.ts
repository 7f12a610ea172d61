import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, type QueryResult, type RawBuilder } from 'kysely';
import pg from 'pg';
import { ConnectionWatch } from '../connection-watch.js';
import type { Logger } from '../logger.js';
import { LockedPGliteDialect } from './pglite-dialect.js';
import { watchPool } from '../metrics.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** The pg pool under each database on real Postgres (for `executePrepared`). */
const pools = new WeakMap<Db, pg.Pool>();

// int8 → number everywhere: seqs and counters stay below 2^53, and JSON clients expect numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface DatabaseTarget {
  /** `postgres://…` for real Postgres; otherwise PGlite persisted under `dataDir`. */
  databaseUrl?: string;
  /** Directory for the embedded PGlite database, or `memory://` for an in-memory one. */
  dataDir?: string;
  /** Pool size for real Postgres. */
  poolSize?: number;
  /**
   * Connections the pool keeps open however long they sit idle (at most `poolSize`), opened at
   * start: a burst after a quiet spell finds backends ready instead of starting them.
   */
  poolMin?: number;
  /** Where Postgres connection loss and recovery are logged. */
  logger: Logger;
}

/** How long a pg connection sits idle before TCP keepalive probes start. */
const KEEPALIVE_IDLE_MS = 30_000;

export function createDatabase(target: DatabaseTarget): Db {
  if (target.databaseUrl) {
    // TCP keepalive: a connection whose server vanished mid-statement (a failover, a dropped NAT
    // entry) errors after the kernel's probes instead of waiting for its answer for ever.
    const max = target.poolSize ?? 10;
    const min = Math.min(target.poolMin ?? 0, max);
    // Probes start after 30 s idle, not the kernel's default 2 h: a connection kept for the pool's
    // minimum may sit idle for hours, and a NAT or load balancer that dropped it silently would
    // otherwise hold the next burst's first statement until TCP gave up on its retransmits.
    const pool = new pg.Pool({ connectionString: target.databaseUrl, max, min, keepAlive: true, keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS });
    // An idle client error (e.g. Postgres restarted) must not crash the process; the pool
    // drops that client and the next query reconnects. Logged once per outage, and the next
    // successful connection after it once.
    const watch = new ConnectionWatch(target.logger, { backend: 'postgres', role: 'pool' }, target.databaseUrl);
    pool.on('error', (err) => { watch.down(err); });
    pool.on('connect', () => { watch.up(); });
    watchPool(pool);
    // The kept connections are opened now (together, so the pool starts that many), not by the first burst.
    for (let i = 0; i < min; i++) void pool.connect().then((client) => { client.release(); }, () => { /* Postgres unreachable: the first query fails the same way, and the pool retries per query */ });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    pools.set(db, pool);
    return db;
  }
  const dataDir = target.dataDir ?? '.sesame/db';
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir, { parsers: { 20: (value: string) => Number(value) } });
  return new Kysely<Database>({ dialect: new LockedPGliteDialect(client) });
}

/** The pg pool under `db` (undefined on PGlite): its size options and the connections it holds (open, of which idle). */
export function poolStateOf(db: Db): { min: number | undefined; max: number | undefined; open: number; idle: number } | undefined {
  const pool = pools.get(db);
  return pool ? { min: pool.options.min, max: pool.options.max, open: pool.totalCount, idle: pool.idleCount } : undefined;
}

/**
 * Runs `query` as the named prepared statement `name`: on real Postgres each pool connection
 * parses it once, and Postgres plans it once per connection when a generic plan costs no more
 * than its custom plans (kysely sends every query unnamed: parsed and planned anew each time —
 * for a group commit's statement, planning took about as long as running it). Only for a few
 * fixed statements: the text must be the same at every call (its values all parameters), and
 * each connection keeps it for good. On PGlite a plain query (its dialect prepares every
 * statement once already). Named statements live in a Postgres session: a pooler in
 * transaction mode between Postgres and the api or the gateway must keep them per client (PgBouncer ≥ 1.21
 * with `max_prepared_statements`), as session pooling and direct connections do.
 */
export async function executePrepared<R>(db: Db, name: string, query: RawBuilder<R>): Promise<QueryResult<R>> {
  const pool = pools.get(db);
  if (!pool) return query.execute(db);
  const { sql, parameters } = query.compile(db);
  const result = await pool.query<R & pg.QueryResultRow>({ name, text: sql, values: parameters as unknown[] });
  return { rows: result.rows };
}
