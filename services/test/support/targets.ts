/**
 * The storage/bus combinations a test file runs on. `pglite` is the embedded default
 * (PGlite + in-process bus); `postgres` is real Postgres + real Redis.
 */
export type Target = 'pglite' | 'postgres';

export function requireServices(): { databaseUrl: string; redisUrl: string } {
  const databaseUrl = process.env.TEST_DATABASE_URL;
  const redisUrl = process.env.TEST_REDIS_URL;
  if (!databaseUrl || !redisUrl) {
    throw new Error('TEST_DATABASE_URL and TEST_REDIS_URL must be set (scripts/dev/test-services.sh start) — these tests need real Postgres and Redis');
  }
  return { databaseUrl, redisUrl };
}

export function hasServices(): boolean {
  return Boolean(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL);
}

/** Whether a suite that only makes sense on real services runs: always in CI (where it then fails without them), else when they are there. */
export function runsOnServices(): boolean {
  return Boolean(process.env.CI) || hasServices();
}

/** Both targets when real services are available (always in CI, where their absence fails). */
export function targets(): Target[] {
  if (process.env.CI) requireServices();
  return hasServices() ? ['pglite', 'postgres'] : ['pglite'];
}
