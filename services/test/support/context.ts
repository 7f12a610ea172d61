import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenService } from '../../src/shared/auth/tokens.js';
import { LocalDiskBlobStore } from '../../src/shared/blob-store.js';
import { MemoryBus, RedisBus, type Bus } from '../../src/shared/bus/index.js';
import { loadConfig, type Config } from '../../src/shared/config.js';
import type { ServiceContext } from '../../src/shared/context.js';
import { createDatabase } from '../../src/shared/db/database.js';
import { migrateToLatest } from '../../src/shared/db/migrate.js';
import { createEventPublisher } from '../../src/shared/events.js';
import { createLogger } from '../../src/shared/logger.js';
import { requireServices, type Target } from './targets.js';

export interface TestDatabase { url?: string; dataDir?: string; drop(): Promise<void> }

/** A fresh, empty database: a new Postgres database per call, or an in-memory PGlite. */
export async function freshDatabase(target: Target): Promise<TestDatabase> {
  if (target === 'pglite') return { dataDir: 'memory://', drop: async () => {} };
  const { databaseUrl } = requireServices();
  const name = `sesame_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface TestContext extends ServiceContext { close(): Promise<void>; target: Target; databaseUrl?: string }

/** A complete ServiceContext on a fresh database, with the real bus for `postgres`. */
export async function createTestContext(target: Target, env: Record<string, string> = {}): Promise<TestContext> {
  const database = await freshDatabase(target);
  // `env.REDIS_URL` points a test at a Redis of its own (e.g. a proxy it can cut).
  const redisUrl = target === 'postgres' ? (env.REDIS_URL ?? requireServices().redisUrl) : undefined;
  const config: Config = loadConfig({
    LOG_LEVEL: 'silent', NODE_ENV: 'test', SESAME_JWT_SECRET: randomBytes(32).toString('base64url'),
    ...(database.url ? { DATABASE_URL: database.url } : {}), ...(redisUrl ? { REDIS_URL: redisUrl } : {}), ...env,
  });
  const logger = createLogger('silent', 'test');
  const db = createDatabase({ databaseUrl: database.url, dataDir: database.dataDir, poolSize: 20, logger });
  await migrateToLatest(db);
  const bus: Bus = redisUrl ? new RedisBus(redisUrl, logger, { limit: config.SESAME_BUS_BACKLOG_LIMIT }) : new MemoryBus();
  const tokens = await TokenService.create(db, config.SESAME_JWT_SECRET, config.SESAME_ACCESS_TOKEN_TTL_SECONDS);
  const publish = createEventPublisher(bus, () => {});
  const blobDir = mkdtempSync(join(tmpdir(), 'sesame-blobs-'));
  const blobs = new LocalDiskBlobStore(blobDir);
  return {
    config, db, bus, logger, tokens, publish, blobs, target, databaseUrl: database.url,
    async close() {
      rmSync(blobDir, { recursive: true, force: true });
      await bus.close();
      await db.destroy();
      await database.drop();
    },
  };
}
