import Fastify from 'fastify';
import { Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, type DatabaseConnection, type Driver } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { healthRoutes } from '../src/api/routes/health.js';
import type { ServiceContext } from '../src/shared/context.js';
import type { Database } from '../src/shared/db/schema.js';

/** A database that counts the statements it is sent and fails them while `down` is set. */
function countingDatabase() {
  const state = { statements: 0, down: false };
  const connection: DatabaseConnection = {
    executeQuery: () => {
      state.statements += 1;
      return state.down ? Promise.reject(new Error('connection refused')) : Promise.resolve({ rows: [] });
    },
    streamQuery: () => { throw new Error('not used'); },
  };
  const driver: Driver = {
    init: () => Promise.resolve(),
    acquireConnection: () => Promise.resolve(connection),
    beginTransaction: () => Promise.resolve(),
    commitTransaction: () => Promise.resolve(),
    rollbackTransaction: () => Promise.resolve(),
    releaseConnection: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  const db = new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (inner) => new PostgresIntrospector(inner),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
  return { db, state };
}

async function healthApp() {
  const { db, state } = countingDatabase();
  const app = Fastify();
  await healthRoutes(app, { db } as unknown as ServiceContext);
  await app.ready();
  const ask = () => app.inject({ method: 'GET', url: '/health' }).then((response) => response.statusCode);
  return { app, state, ask };
}

/** `/health` asks the database at most once a second, whether the check passed or failed. */
describe('/health database check', () => {
  let clock = 10_000;
  afterEach(() => { vi.restoreAllMocks(); });
  const useClock = () => { vi.spyOn(performance, 'now').mockImplementation(() => clock); };

  it('one SELECT answers every probe of its second, concurrent or not; the next second asks again', async () => {
    useClock();
    const { app, state, ask } = await healthApp();
    expect(await Promise.all(Array.from({ length: 20 }, ask))).toEqual(Array(20).fill(200));
    for (let i = 0; i < 10; i++) expect(await ask()).toBe(200);
    expect(state.statements).toBe(1);
    clock += 1001;
    expect(await ask()).toBe(200);
    expect(state.statements).toBe(2);
    await app.close();
  });

  it('a failed check answers its whole second too (a flood of probes does not reach a failing database), and never as healthy', async () => {
    useClock();
    const { app, state, ask } = await healthApp();
    state.down = true;
    const first = await Promise.all(Array.from({ length: 20 }, ask));
    expect(first.every((status) => status >= 500)).toBe(true);
    for (let i = 0; i < 10; i++) expect(await ask()).toBeGreaterThanOrEqual(500);
    expect(state.statements).toBe(1);
    // The database is back, but the failed check still answers for the rest of its second.
    state.down = false;
    expect(await ask()).toBeGreaterThanOrEqual(500);
    expect(state.statements).toBe(1);
    clock += 1001;
    expect(await ask()).toBe(200);
    expect(state.statements).toBe(2);
    await app.close();
  });

  it("answers the schema's JSON of the current millisecond, with or without a check under way", async () => {
    let wall = Date.UTC(2026, 10, 26, 7, 0, 0, 1);
    vi.spyOn(Date, 'now').mockImplementation(() => wall);
    const { app } = await healthApp();
    const get = () => app.inject({ method: 'GET', url: '/health' });
    const expected = () => `{"status":"healthy","timestamp":"${new Date(wall).toISOString()}"}`;
    // The first answer waits for the check; the next ones of its second answer at once.
    for (let i = 0; i < 3; i++) {
      const response = await get();
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.body).toBe(expected());
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(expected())));
      wall += i;
    }
    wall += 1;
    expect((await get()).body).toBe(expected());
    await app.close();
  });
});
