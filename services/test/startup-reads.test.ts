import { inboxStream } from '@sesamespace/sdk/protocol';
import { sql, type KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StartupReads } from '../src/gateway/startup-reads.js';
import { createDatabase } from '../src/shared/db/database.js';
import { readHeads } from '../src/shared/events.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

/** The statements a StartupReads runs (Kysely plugin: every query, raw SQL included). */
function counted(api: TestApi): { reads: StartupReads; statements: () => number } {
  let statements = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => { statements++; return args.node; },
    transformResult: (args) => Promise.resolve(args.result),
  };
  return { reads: new StartupReads(api.ctx.db.withPlugin(plugin)), statements: () => statements };
}

/**
 * Heads asked for in the round trip of a handshake's key read (sessions checking their heads once
 * subscribed) come back from the key's statement: a burst's re-checks add no statement of their own.
 */
describe.each(targets())('startup reads on %s', (target) => {
  let api: TestApi;
  let agent: { id: string; apiKey: string };
  let channelId: string;
  let other: { id: string; apiKey: string };

  beforeAll(async () => {
    api = await startTestApi(target);
    agent = await api.createAgent('startup-reader');
    other = await api.createAgent('startup-other');
    channelId = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'group', name: 'startup', memberIds: [other.id] })).json().data.id;
    for (const content of ['one', 'two']) await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content, kind: 'text' });
  });
  afterAll(async () => { await api?.close(); });

  it('reads the heads asked for with the keys of the round trip in the keys\' statement', async () => {
    const { reads, statements } = counted(api);
    const streams = [channelId, inboxStream(agent.id), 'ch_never_written'];
    const expected = await readHeads(api.ctx.db, streams);
    expect(expected[channelId]).toBeGreaterThan(0);
    const [key, heads] = await Promise.all([reads.apiKey(agent.apiKey), reads.headsOf(streams)]);
    expect(key?.principal.id).toBe(agent.id);
    expect(heads).toEqual(expected);
    expect(statements()).toBe(1);
  });

  it('reads the rosters asked for with the keys of the round trip in the keys\' statement too', async () => {
    const { reads, statements } = counted(api);
    const [key, roster, none] = await Promise.all([reads.apiKey(agent.apiKey), reads.rosterOf(channelId), reads.rosterOf('ch_no_such_channel')]);
    expect(key?.principal.id).toBe(agent.id);
    expect(roster.members.sort()).toEqual([agent.id, other.id].sort());
    expect(roster.seq).toBe((await readHeads(api.ctx.db, [channelId]))[channelId]);
    expect(none).toEqual({ seq: 0, members: [] });
    expect(statements()).toBe(1);
    // Alone: a statement of its own, the same answer.
    const alone = await reads.rosterOf(channelId);
    expect({ seq: alone.seq, members: alone.members.sort() }).toEqual(roster);
    expect(statements()).toBe(2);
  });

  it('reads heads alone when no key is asked for, or none was found to carry them', async () => {
    const { reads, statements } = counted(api);
    const expected = await readHeads(api.ctx.db, [channelId]);
    expect(await reads.headsOf([channelId])).toEqual(expected);
    expect(statements()).toBe(1);
    const [key, heads] = await Promise.all([reads.apiKey('sk_unknown_key_for_startup_reads'), reads.headsOf([channelId])]);
    expect(key).toBeNull();
    expect(heads).toEqual(expected);
    expect(statements()).toBe(3);
  });

  it.skipIf(target !== 'postgres')('runs the keys\' statement prepared, the same for any number of keys, heads and rosters', async () => {
    // One connection: what it has prepared is what the statement ran as.
    const db = createDatabase({ databaseUrl: api.ctx.databaseUrl, poolSize: 1, logger: api.ctx.logger });
    try {
      const reads = new StartupReads(db);
      const streams = [channelId, inboxStream(agent.id), 'ch_never_written'];
      const expectedHeads = await readHeads(api.ctx.db, streams);
      // Two keys (two rows: the heads and rosters asked for ride on one of them), then one key alone.
      const [a, b, heads, roster] = await Promise.all([reads.apiKey(agent.apiKey), reads.apiKey(other.apiKey), reads.headsOf(streams), reads.rosterOf(channelId)]);
      expect([a?.principal.id, b?.principal.id]).toEqual([agent.id, other.id]);
      expect(a?.heads).toEqual({ [inboxStream(agent.id)]: expectedHeads[inboxStream(agent.id)], [channelId]: expectedHeads[channelId] });
      expect(a?.memberships.map((m) => m.channel_id)).toEqual([channelId]);
      expect(heads).toEqual(expectedHeads);
      expect({ seq: roster.seq, members: [...roster.members].sort() }).toEqual({ seq: expectedHeads[channelId], members: [agent.id, other.id].sort() });
      const [alone, unknown] = await Promise.all([reads.apiKey(other.apiKey), reads.apiKey('sk_unknown_key_for_startup_reads')]);
      expect(alone?.principal.id).toBe(other.id);
      expect(unknown).toBeNull();
      // Heads and a roster with no key to carry them: statements of their own, prepared too.
      const [headsAlone, rosterAlone] = await Promise.all([reads.headsOf(streams), reads.rosterOf(channelId)]);
      expect(headsAlone).toEqual(expectedHeads);
      expect({ seq: rosterAlone.seq, members: [...rosterAlone.members].sort() }).toEqual({ seq: roster.seq, members: [...roster.members].sort() });
      const prepared = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(db);
      expect(prepared.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['sesame_startup_keys', 'sesame_read_heads', 'sesame_startup_rosters']));
      // Batches of one key and of two, with heads and without: past Postgres's first five custom
      // plans the statement runs its generic plan (planned once), not a custom plan per batch.
      for (let i = 0; i < 8; i++) {
        await Promise.all([reads.apiKey(agent.apiKey), ...(i % 2 === 0 ? [reads.apiKey(other.apiKey), reads.headsOf(streams)] : [])]);
      }
      const plans = await sql<{ generic_plans: string; custom_plans: string }>`SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'sesame_startup_keys'`.execute(db);
      expect(Number(plans.rows[0].generic_plans)).toBeGreaterThan(0);
    } finally {
      await db.destroy();
    }
  });

  it.skipIf(target !== 'postgres')('keeps reading keys on a connection that prepared the statement before principals gained a column', async () => {
    // A rolling deploy: a new api's migration adds a column while this gateway's connections hold
    // the statement. Postgres refuses a prepared statement whose result columns changed, so the
    // statement names the principal's columns instead of selecting them all.
    const db = createDatabase({ databaseUrl: api.ctx.databaseUrl, poolSize: 1, logger: api.ctx.logger });
    try {
      const reads = new StartupReads(db);
      expect((await reads.apiKey(agent.apiKey))?.principal.id).toBe(agent.id);
      await sql`ALTER TABLE principals ADD COLUMN startup_reads_probe text`.execute(api.ctx.db);
      try {
        const key = await reads.apiKey(agent.apiKey);
        expect(key?.principal.id).toBe(agent.id);
        expect(key?.principal).not.toHaveProperty('startup_reads_probe');
      } finally {
        await sql`ALTER TABLE principals DROP COLUMN startup_reads_probe`.execute(api.ctx.db);
      }
    } finally {
      await db.destroy();
    }
  });
});
