import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GroupCommit, type SendOutcome } from '../src/api/routes/channels/messages/group-commit.js';
import { sendMessage, type SendInput } from '../src/api/routes/channels/messages/service.js';
import { createDatabase, type Db } from '../src/shared/db/database.js';
import type { Principal } from '../src/shared/db/schema.js';
import { startTestApi, type TestApi } from './support/api.js';
import { expectOutcomeUnknown } from './support/outcome.js';
import { runsOnServices } from './support/targets.js';

/**
 * The send batch as a named prepared statement on real Postgres (`executePrepared`): a pool of
 * one connection, so every batch and the checks below share one session (prepared statements
 * and their plans are per session).
 */
describe.skipIf(!runsOnServices())('group commit through a prepared statement (postgres)', () => {
  let api: TestApi;
  let db: Db;
  let sender: Principal;
  let channelId: string;
  let alone: number;
  let commit: GroupCommit;

  beforeAll(async () => {
    api = await startTestApi('postgres', { SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    const alice = await api.createAgent('prepared-alice');
    channelId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'channel', name: 'prepared', memberIds: [] })).json().data.id as string;
    sender = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', alice.id).executeTakeFirstOrThrow();
    db = createDatabase({ databaseUrl: api.ctx.databaseUrl, poolSize: 1, logger: api.ctx.logger });
    const ctx = { ...api.ctx, db };
    commit = new GroupCommit(ctx, (who, channel, input, baseUrl) => {
      alone++;
      return sendMessage(ctx, who, channel, input, baseUrl());
    });
  });
  afterEach(() => { vi.restoreAllMocks(); });
  afterAll(async () => {
    await db?.destroy();
    await api?.close();
  });

  /** One batch: the first send goes at once (a batch of one), the others together in the next. */
  const burst = (inputs: SendInput[]): Promise<SendOutcome[]> => Promise.all(inputs.map((input) => commit.send(sender, channelId, input, () => '')));
  const statement = async () => (await sql<{ generic_plans: number | string; custom_plans: number | string }>`
    SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'sesame_send_batch'`.execute(db)).rows[0];
  const head = async () => (await db.selectFrom('streams').select('head_seq').where('id', '=', channelId).executeTakeFirstOrThrow()).head_seq;
  const seqs = async () => (await db.selectFrom('messages').select('seq').where('channel_id', '=', channelId).orderBy('seq').execute()).map((r) => r.seq);

  it('answers the same seqs, gapless and in order, across a dozen batches before and after its plan became generic; an idempotent repeat finds its message', async () => {
    alone = 0;
    const start = await head();
    const answered: number[] = [];
    const first: SendOutcome[] = [];
    for (let round = 0; round < 12; round++) {
      const outcomes = await burst(Array.from({ length: 4 }, (_, i) => ({ content: `r${round} m${i}`, kind: 'text', clientGeneratedId: `cg-${round}-${i}` })));
      outcomes.forEach((o, i) => { expect(o).toMatchObject({ created: true, message: { content: `r${round} m${i}`, channelId } }); });
      answered.push(...outcomes.map((o) => o.message.seq));
      if (round === 0) first.push(...outcomes);
    }
    expect(alone).toBe(0);
    // Arrival order is seq order, and the stream has no gap.
    expect(answered).toEqual(answered.map((_, i) => start + i + 1));
    expect(await seqs()).toEqual(answered);
    // The statement is prepared on the connection and runs its generic plan by now.
    const stats = await statement();
    expect(stats).toBeDefined();
    expect(Number(stats.generic_plans)).toBeGreaterThan(0);
    // Repeats of the first round's clientGeneratedIds, in a batch run by the generic plan: left
    // out by the batch, found by the lone path, answered with the messages they created.
    const repeats = await burst(Array.from({ length: 4 }, (_, i) => ({ content: `again ${i}`, kind: 'text', clientGeneratedId: `cg-0-${i}` })));
    repeats.forEach((o, i) => { expect(o).toEqual({ created: false, message: first[i].message }); });
    expect(alone).toBe(4); // the statement left each out (the first went at once, as a batch of its own)
    expect(await seqs()).toEqual(answered);
  });

  it('a batch the database refuses (after DDL invalidated its plan) sends each message alone; once fixed, batches continue the seqs', async () => {
    const before = await seqs();
    await sql.raw(`CREATE FUNCTION test_refuse_stream() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF NEW.id = '${channelId}' THEN RAISE EXCEPTION 'stream write refused'; END IF; RETURN NEW; END $$`).execute(api.ctx.db);
    await sql.raw('CREATE TRIGGER test_refuse_stream BEFORE UPDATE ON streams FOR EACH ROW EXECUTE FUNCTION test_refuse_stream()').execute(api.ctx.db);
    alone = 0;
    const refused = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => commit.send(sender, channelId, { content: `refused ${i}`, kind: 'text' }, () => '')));
    expect(refused.map((r) => r.status)).toEqual(refused.map(() => 'rejected'));
    expect(alone).toBe(5); // each one tried alone, and refused there too
    expect(await seqs()).toEqual(before);
    await sql.raw('DROP TRIGGER test_refuse_stream ON streams').execute(api.ctx.db);
    const outcomes = await burst(Array.from({ length: 5 }, (_, i) => ({ content: `after ${i}`, kind: 'text' })));
    expect(outcomes.map((o) => o.message.seq)).toEqual([1, 2, 3, 4, 5].map((n) => before[before.length - 1] + n));
    expect(alone).toBe(5);
  });

  it('a connection lost after the statement was sent answers every caller 503 (outcome unknown) and writes nothing twice', async () => {
    const last = await head();
    // The prepared statement runs (and commits), then its answer is lost as with a dropped connection.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the pool as `this`
    const query = pg.Pool.prototype.query as (this: pg.Pool, config: unknown) => Promise<unknown>;
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- without a callback, as here, pool.query answers a promise
    vi.spyOn(pg.Pool.prototype, 'query').mockImplementation(async function (this: pg.Pool, config: unknown) {
      const result = await query.call(this, config);
      if (typeof config === 'object' && config !== null && 'name' in config && config.name === 'sesame_send_batch') throw new Error('Connection terminated unexpectedly');
      return result;
    });
    alone = 0;
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => commit.send(sender, channelId, { content: `lost ${i}`, kind: 'text' }, () => '')));
    expect(alone).toBe(0);
    expectOutcomeUnknown(results);
    // The batches did commit: each message once.
    const rows = await db.selectFrom('messages').select('content').where('channel_id', '=', channelId).where('seq', '>', last).orderBy('seq').execute();
    expect(rows.map((r) => r.content)).toEqual(['lost 0', 'lost 1', 'lost 2', 'lost 3', 'lost 4']);
  });
});
