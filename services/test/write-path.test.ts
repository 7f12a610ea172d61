import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { updateMessage } from '../src/api/routes/channels/messages/service.js';
import { watchCredentialChanges, type CredentialChange } from '../src/shared/auth/revocations.js';
import { RedisBus, type BusMessage } from '../src/shared/bus/index.js';
import { createDatabase } from '../src/shared/db/database.js';
import { createEventPublisher } from '../src/shared/events.js';
import { startTestApi, type TestApi } from './support/api.js';
import { countMessageStatements } from './support/statement-counter.js';
import { runsOnServices, requireServices, targets } from './support/targets.js';

type Agent = { id: string; apiKey: string };

describe.each(targets())('group commit of message sends on %s', (target) => {
  let api: TestApi;
  let alice: Agent;
  let bob: Agent;
  let mallory: Agent;
  /** INSERT statements on messages (not rows). */
  let statements: () => Promise<number>;

  beforeAll(async () => {
    // Budgets the bursts below never reach (hundreds of sends per key); two batches in flight
    // per workspace (one is the default), so every test here also meets concurrent batches.
    api = await startTestApi(target, { SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000', SESAME_WRITE_BATCHES_IN_FLIGHT: '2' });
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    mallory = await api.createAgent('mallory');
    statements = await countMessageStatements(api.ctx.db, 'message', 'INSERT');
    // Fails any row whose content is 'poison' — a database error that hits one message of a batch.
    for (const statement of [
      "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.content = 'poison' THEN RAISE EXCEPTION 'poisoned message'; END IF; RETURN NEW; END $$",
      'CREATE TRIGGER test_poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION test_poison()',
    ]) await sql.raw(statement).execute(api.ctx.db);
  });
  afterAll(() => api?.close());


  it('answers every concurrent sender with its own message, consecutive seqs, in fewer transactions than messages', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'batch', memberIds: [bob.id] })).json().data;
    const senders = [alice, bob];
    // Both keys authenticated once already, so the burst below reaches the send path together.
    for (const who of senders) expect((await api.call(who.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    const before = await statements();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      api.call(senders[i % 2].apiKey, 'POST', `/channels/${channel.id}/messages`, { content: `m${i}`, kind: 'text' })));
    expect(results.map((r) => r.statusCode)).toEqual(results.map(() => 201));
    results.forEach((r, i) => { expect(r.json().data).toMatchObject({ content: `m${i}`, senderId: senders[i % 2].id, channelId: channel.id }); });
    const seqs = results.map((r) => r.json().data.seq as number).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => channel.headSeq + 1 + i));
    // Group commit: the 40 messages went in fewer INSERT statements than 40. (PGlite runs each
    // statement synchronously in this process, so injected requests rarely overlap there.)
    if (target === 'postgres') expect(await statements() - before).toBeLessThan(40);
    // Each message has exactly one event, at its seq, with the same body the sender got back.
    const events = (await api.call(alice.apiKey, 'GET', `/streams/${channel.id}/events?after=${channel.headSeq}&limit=1000`)).json().data;
    expect(events.map((e: { seq: number }) => e.seq)).toEqual(seqs);
    const bySeq = new Map(results.map((r) => [r.json().data.seq as number, r.json().data]));
    for (const event of events) expect(event).toMatchObject({ type: 'message', data: bySeq.get(event.seq) });
    // History agrees.
    const history = (await api.call(bob.apiKey, 'GET', `/channels/${channel.id}/messages?after=${channel.headSeq}&limit=100`)).json().data;
    expect(history.map((m: { id: string; seq: number }) => [m.seq, m.id])).toEqual(seqs.map((s) => [s, bySeq.get(s).id]));
  });

  // A batch serialises each message once and sends that text as the reply and inside the bus
  // message: the bytes must be what the route's serialiser writes (GET of the same message goes
  // through it), and subscribers must hear the event the object publish would have carried.
  it('a batched send\'s reply is byte for byte the serialised message, and its bus event is the same message', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'bytes', memberIds: [bob.id] })).json().data;
    const root = (await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'root' })).json().data;
    const heard: BusMessage[] = [];
    const unsubscribe = api.ctx.bus.subscribe(channel.id, (m) => { heard.push(m); });
    await api.ctx.bus.ready();
    // GET prints metadata in jsonb's key order (shorter keys first), the reply in the client's: keys given in jsonb's order.
    const bodies = [
      { content: 'plain' },
      { content: 'quotes " and \\ and \n and \u2028 and ünïcödé 🦉', kind: 'text', clientGeneratedId: 'bytes-1', threadRootId: root.id, intent: 'x',
        metadata: { n: [1, 2.5, 1e21, -0, null, true], empty: {}, nested: { deep: { 'k "q"': 'v' } } } },
      { content: 'tool', kind: 'tool_call', metadata: { toolCall: { name: 'n', input: { a: 1 }, state: 'running', callId: 'c', description: null } } },
      ...Array.from({ length: 6 }, (_, i) => ({ content: `filler ${i}` })),
    ];
    const results = await Promise.all(bodies.map((body, i) => api.call([alice, bob][i % 2].apiKey, 'POST', `/channels/${channel.id}/messages`, body)));
    expect(results.map((r) => r.statusCode)).toEqual(bodies.map(() => 201));
    for (let i = 0; i < 50 && heard.length < bodies.length; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    unsubscribe();
    for (const [i, res] of results.entries()) {
      const sent = res.json().data;
      const got = await api.call([alice, bob][i % 2].apiKey, 'GET', `/channels/${channel.id}/messages/${sent.id}`);
      expect(res.body).toBe(got.body);
      expect(res.headers['content-type']).toBe(got.headers['content-type']);
      expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
      const event = heard.find((m) => m.kind === 'event' && m.event.seq === sent.seq);
      expect(event).toEqual({ kind: 'event', event: { type: 'message', stream: channel.id, seq: sent.seq, data: sent, at: sent.createdAt } });
    }
  });

  it('leaves the messages it must refuse out of a batch, answered as when sent alone', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'mixed', memberIds: [bob.id] })).json().data;
    const root = (await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'root' })).json().data;
    const send = (who: Agent, body: Record<string, unknown>) => api.call(who.apiKey, 'POST', `/channels/${channel.id}/messages`, body);
    await send(mallory, { content: 'warm-up' }); // mallory's key is cached too
    const before = await statements();
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => send(i % 2 ? bob : alice, { content: `ok${i}` })),
      send(mallory, { content: 'not a member' }),
      send(alice, { content: 'bad metadata', kind: 'tool_call', metadata: { nope: true } }),
      send(bob, { content: 'bad root', threadRootId: 'msg_doesnotexist' }),
      send(alice, { content: 'reply', threadRootId: root.id }),
      send(bob, { content: 'once', clientGeneratedId: 'same-id' }),
      send(bob, { content: 'once', clientGeneratedId: 'same-id' }),
      ...Array.from({ length: 10 }, (_, i) => send(i % 2 ? bob : alice, { content: `ok${10 + i}` })),
    ]);
    const status = results.map((r) => r.statusCode);
    expect(status.slice(0, 10)).toEqual(Array(10).fill(201));
    expect(status.slice(10, 14)).toEqual([403, 400, 422, 201]);
    expect(status.slice(14, 16).sort()).toEqual([200, 201]);
    expect(results[14].json().data.id).toBe(results[15].json().data.id);
    expect(status.slice(16)).toEqual(Array(10).fill(201));
    const created = results.filter((r) => r.statusCode === 201).map((r) => r.json().data);
    expect(created).toHaveLength(22);
    if (target === 'postgres') expect(await statements() - before).toBeLessThan(22);
    const seqs = created.map((m) => m.seq as number).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 22 }, (_, i) => root.seq + 1 + i));
    const history = (await api.call(alice.apiKey, 'GET', `/channels/${channel.id}/messages?after=${root.seq}&limit=100`)).json().data;
    expect(history.map((m: { id: string }) => m.id).sort()).toEqual(created.map((m) => m.id).sort());
    const events = (await api.call(alice.apiKey, 'GET', `/streams/${channel.id}/events?after=${root.seq}&limit=100`)).json().data;
    expect(events.map((e: { seq: number }) => e.seq)).toEqual(seqs);
  });

  it('a message that fails in the database fails alone: the rest of its batch is committed', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'poisoned', memberIds: [bob.id] })).json().data;
    const send = (who: Agent, content: string) => api.call(who.apiKey, 'POST', `/channels/${channel.id}/messages`, { content });
    const contents = Array.from({ length: 21 }, (_, i) => (i === 10 ? 'poison' : `fine${i}`));
    const results = await Promise.all(contents.map((content, i) => send(i % 2 ? bob : alice, content)));
    expect(results.map((r) => r.statusCode)).toEqual(contents.map((c) => (c === 'poison' ? 500 : 201)));
    const created = results.filter((r) => r.statusCode === 201).map((r) => r.json().data);
    created.forEach((m) => { expect(contents).toContain(m.content); });
    const seqs = created.map((m) => m.seq as number).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => channel.headSeq + 1 + i));
    const events = (await api.call(alice.apiKey, 'GET', `/streams/${channel.id}/events?after=${channel.headSeq}&limit=100`)).json().data;
    expect(events.map((e: { data: { content: string } }) => e.data.content).sort()).toEqual(contents.filter((c) => c !== 'poison').sort());
  });

  const group = async (name: string) => (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name, memberIds: [bob.id] })).json().data as { id: string; headSeq: number };
  /** Every message of `channelId` after `after`, by seq, with its event: the seqs must be gapless. */
  const expectGapless = async (channelId: string, after: number, count: number) => {
    const history = (await api.call(alice.apiKey, 'GET', `/channels/${channelId}/messages?after=${after}&limit=200`)).json().data as Array<{ seq: number; id: string }>;
    expect(history.map((m) => m.seq)).toEqual(Array.from({ length: count }, (_, i) => after + 1 + i));
    const events = (await api.call(alice.apiKey, 'GET', `/streams/${channelId}/events?after=${after}&limit=200`)).json().data as Array<{ seq: number; data: { id: string } }>;
    expect(events.map((e) => [e.seq, e.data.id])).toEqual(history.map((m) => [m.seq, m.id]));
  };

  it('commits concurrent sends to different channels together: one in flight per channel still batches', async () => {
    const channels = await Promise.all(Array.from({ length: 16 }, (_, i) => group(`across-${i}`)));
    for (const who of [alice, bob]) expect((await api.call(who.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    const before = await statements();
    const results = await Promise.all(channels.map((channel, i) =>
      api.call((i % 2 ? bob : alice).apiKey, 'POST', `/channels/${channel.id}/messages`, { content: `one-${i}`, kind: 'text' })));
    expect(results.map((r) => r.statusCode)).toEqual(channels.map(() => 201));
    results.forEach((r, i) => { expect(r.json().data).toMatchObject({ channelId: channels[i].id, content: `one-${i}`, seq: channels[i].headSeq + 1 }); });
    // One send per channel, yet fewer INSERT statements than messages: the batch spans channels.
    if (target === 'postgres') expect(await statements() - before).toBeLessThan(16);
    for (const channel of channels) await expectGapless(channel.id, channel.headSeq, 1);
  });

  it('many channels in random order from two replicas at once: no deadlock, no gap, every event at its seq', async () => {
    const channels = await Promise.all(Array.from({ length: 12 }, (_, i) => group(`random-${i}`)));
    // A second api process on the same database: its batches lock the same streams.
    const replica = await buildApp(api.ctx);
    await replica.ready();
    try {
      const viaReplica = (key: string, channelId: string, content: string) => replica.inject({
        method: 'POST', url: `/api/v1/channels/${channelId}/messages`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, payload: JSON.stringify({ content }),
      });
      // A fixed pseudo-random order (no flaky seed): channel k of send i.
      const pick = (i: number) => (i * 7 + ((i * i) % 5)) % channels.length;
      const sends = Array.from({ length: 240 }, (_, i) => {
        const channel = channels[pick(i)];
        const key = (i % 3 ? alice : bob).apiKey;
        return i % 2 ? viaReplica(key, channel.id, `r${i}`) : api.call(key, 'POST', `/channels/${channel.id}/messages`, { content: `r${i}` });
      });
      const results = await Promise.all(sends);
      expect(results.map((r) => r.statusCode)).toEqual(results.map(() => 201));
      const perChannel = new Map<string, number>();
      for (let i = 0; i < 240; i++) perChannel.set(channels[pick(i)].id, (perChannel.get(channels[pick(i)].id) ?? 0) + 1);
      for (const channel of channels) await expectGapless(channel.id, channel.headSeq, perChannel.get(channel.id) ?? 0);
    } finally {
      await replica.close();
    }
  });

  it('in a batch over several channels, a send that must fail fails alone and the others commit', async () => {
    const channels = await Promise.all(Array.from({ length: 4 }, (_, i) => group(`mixed-across-${i}`)));
    await api.call(mallory.apiKey, 'GET', '/auth/me');
    const send = (who: Agent, channelId: string, body: Record<string, unknown>) => api.call(who.apiKey, 'POST', `/channels/${channelId}/messages`, body);
    const results = await Promise.all([
      ...channels.map((c, i) => send(alice, c.id, { content: `a${i}` })),
      send(mallory, channels[1].id, { content: 'not a member' }),
      send(bob, channels[2].id, { content: 'poison' }),
      send(bob, channels[3].id, { content: 'bad', kind: 'tool_call', metadata: { nope: true } }),
      ...channels.map((c, i) => send(bob, c.id, { content: `b${i}` })),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201, 201, 403, 500, 400, 201, 201, 201, 201]);
    for (const channel of channels) await expectGapless(channel.id, channel.headSeq, 2);
  });

  it('a database error that sinks the batch fails every send of it and writes nothing; the next sends continue the seqs', async () => {
    const channels = await Promise.all(Array.from({ length: 3 }, (_, i) => group(`outage-${i}`)));
    // Any write to these streams' heads fails while they are listed (the batch's last statement,
    // after its lock and checks; the lone retry fails the same way).
    await sql`CREATE TABLE IF NOT EXISTS test_failing_streams (id text PRIMARY KEY)`.execute(api.ctx.db);
    await sql.raw(`CREATE OR REPLACE FUNCTION test_fail_stream() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF EXISTS (SELECT 1 FROM test_failing_streams WHERE id = NEW.id) THEN RAISE EXCEPTION 'stream write failed'; END IF; RETURN NEW; END $$`).execute(api.ctx.db);
    await sql.raw('DROP TRIGGER IF EXISTS test_fail_stream ON streams').execute(api.ctx.db);
    await sql.raw('CREATE TRIGGER test_fail_stream BEFORE UPDATE ON streams FOR EACH ROW EXECUTE FUNCTION test_fail_stream()').execute(api.ctx.db);
    for (const channel of channels) await sql`INSERT INTO test_failing_streams (id) VALUES (${channel.id})`.execute(api.ctx.db);
    const send = (i: number, channelId: string) => api.call((i % 2 ? bob : alice).apiKey, 'POST', `/channels/${channelId}/messages`, { content: `lost${i}` });
    const failed = await Promise.all(Array.from({ length: 12 }, (_, i) => send(i, channels[i % 3].id)));
    expect(failed.map((r) => r.statusCode)).toEqual(failed.map(() => 500));
    const written = await sql<{ n: number | string }>`SELECT count(*) AS n FROM messages WHERE channel_id IN (${sql.join(channels.map((c) => c.id))})`.execute(api.ctx.db);
    expect(Number(written.rows[0].n)).toBe(0);
    const stored = await sql<{ n: number | string }>`SELECT count(*) AS n FROM events WHERE stream IN (${sql.join(channels.map((c) => c.id))}) AND type = 'message'`.execute(api.ctx.db);
    expect(Number(stored.rows[0].n)).toBe(0);
    await sql`DELETE FROM test_failing_streams`.execute(api.ctx.db);
    const after = await Promise.all(Array.from({ length: 6 }, (_, i) => send(i, channels[i % 3].id)));
    expect(after.map((r) => r.statusCode)).toEqual(after.map(() => 201));
    for (const channel of channels) await expectGapless(channel.id, channel.headSeq, 2);
  });

  it.skipIf(target !== 'postgres')('two batches in flight to one channel: both wait on its stream lock, then seqs are gapless and each caller gets its own message', async () => {
    const channel = await group('two-in-flight');
    for (const who of [alice, bob]) expect((await api.call(who.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    /** Batch statements of this database waiting for a row lock. */
    const waiting = async () => Number((await sql<{ n: number | string }>`SELECT count(*) AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%WITH input%'`.execute(api.ctx.db)).rows[0].n);
    const send = (who: Agent, content: string) => api.call(who.apiKey, 'POST', `/channels/${channel.id}/messages`, { content, kind: 'text' });
    let sends: Array<ReturnType<typeof send>> = [];
    // Hold the channel's stream lock: the first batch waits for it in the database, and the next
    // one (another sender, so another order key) is sent meanwhile and waits there too.
    await api.ctx.db.transaction().execute(async (trx) => {
      await sql`SELECT head_seq FROM streams WHERE id = ${channel.id} FOR UPDATE`.execute(trx);
      sends = [send(alice, 'first')];
      while (await waiting() < 1) await new Promise((resolve) => setTimeout(resolve, 10));
      // alice's second waits here for her first (same sender, same channel); bob's goes at once.
      sends.push(send(alice, 'second'), send(bob, 'third'));
      while (await waiting() < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    });
    const results = await Promise.all(sends);
    expect(results.map((r) => r.statusCode)).toEqual([201, 201, 201]);
    const replies = results.map((r) => r.json().data as { content: string; seq: number; senderId: string; id: string });
    expect(replies.map((m) => m.content)).toEqual(['first', 'second', 'third']);
    expect(replies.map((m) => m.senderId)).toEqual([alice.id, alice.id, bob.id]);
    expect(replies.map((m) => m.seq).sort((a, b) => a - b)).toEqual([1, 2, 3].map((i) => channel.headSeq + i));
    // One sender's sends keep their arrival order.
    expect(replies[1].seq).toBeGreaterThan(replies[0].seq);
    await expectGapless(channel.id, channel.headSeq, 3);
    // Each event carries the message its sender got back.
    const events = (await api.call(alice.apiKey, 'GET', `/streams/${channel.id}/events?after=${channel.headSeq}`)).json().data as Array<{ seq: number; data: unknown }>;
    const bySeq = new Map(replies.map((m) => [m.seq, m]));
    for (const event of events) expect(event.data).toEqual(bySeq.get(event.seq));
  });

  it('an edit that waited on the stream lock while the message was deleted writes nothing back into the tombstone', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'edit-vs-delete', memberIds: [bob.id] })).json().data;
    const sent = (await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'secret plan', kind: 'text' })).json().data;
    // What the edit route read before the delete committed: the live row.
    const stale = await api.ctx.db.selectFrom('messages').selectAll().where('id', '=', sent.id).executeTakeFirstOrThrow();
    const author = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', alice.id).executeTakeFirstOrThrow();
    expect((await api.call(alice.apiKey, 'DELETE', `/channels/${channel.id}/messages/${sent.id}`)).statusCode).toBe(200);
    const head = async () => (await api.ctx.db.selectFrom('streams').select('head_seq').where('id', '=', channel.id).executeTakeFirstOrThrow()).head_seq;
    const headAfterDelete = await head();

    await expect(updateMessage(api.ctx, author, stale, { handle: author.handle, display_name: author.display_name, kind: author.kind }, { content: 'secret plan, again', streaming: true }))
      .rejects.toMatchObject({ status: 404 });

    const row = await api.ctx.db.selectFrom('messages').selectAll().where('id', '=', sent.id).executeTakeFirstOrThrow();
    expect(row.deleted_at).not.toBeNull();
    expect(row.content).toBe('');
    const updates = await api.ctx.db.selectFrom('events').select('seq').where('stream', '=', channel.id).where('type', '=', 'message.updated').execute();
    expect(updates).toEqual([]);
    expect(await head()).toBe(headAfterDelete); // the refused edit's seq was rolled back: no gap
    // The next send continues the seqs.
    const next = (await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'after', kind: 'text' })).json().data;
    expect(next.seq).toBe(headAfterDelete + 1);
  });
});

describe.skipIf(!runsOnServices())('credential cache across two api processes (postgres + redis)', () => {
  let a: TestApi;
  let b: { call: TestApi['call']; close(): Promise<void>; changes: CredentialChange[]; changed(): Promise<void> };

  beforeAll(async () => {
    a = await startTestApi('postgres');
    // A second api process: its own pool, its own Redis connections, the same database.
    const db = createDatabase({ databaseUrl: a.ctx.databaseUrl, logger: a.ctx.logger });
    const bus = new RedisBus(requireServices().redisUrl, a.ctx.logger);
    const app = await buildApp({ ...a.ctx, db, bus, publish: createEventPublisher(bus, () => {}) });
    await app.ready();
    const changes: CredentialChange[] = [];
    let waiter: (() => void) | undefined;
    // Registered after the app's own watcher: when it runs, B's cache has dropped the entry.
    watchCredentialChanges(bus, (change) => { changes.push(change); waiter?.(); });
    await bus.ready();
    b = {
      changes,
      changed: () => new Promise<void>((resolve) => { waiter = resolve; }),
      call: async (key, method, url, body) => app.inject({
        method, url: `/api/v1${url}`, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        payload: body === undefined ? undefined : JSON.stringify(body),
      }),
      close: async () => { await app.close(); await bus.close(); await db.destroy(); },
    };
  });
  afterAll(async () => { await b?.close(); await a?.close(); });

  it('refuses a key revoked on the other process at the next request', async () => {
    const agent = await a.createAgent('revoked-agent');
    const key = (await a.call(agent.apiKey, 'GET', '/keys')).json().data[0];
    expect((await b.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    expect((await b.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    const changed = b.changed();
    expect((await a.call(agent.apiKey, 'DELETE', `/keys/${key.id}`)).statusCode).toBeLessThan(300);
    await changed;
    expect((await b.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(401);
    expect((await a.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(401);
  });

  it('refuses a principal disabled on the other process at the next request', async () => {
    const agent = await a.createAgent('disabled-agent');
    expect((await b.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    const changed = b.changed();
    expect((await a.call(a.adminKey, 'POST', `/principals/${agent.id}/disable`)).statusCode).toBe(200);
    await changed;
    expect((await b.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(401);
  });

  it('refuses a member removed on the other process at the next send, and shows a changed principal at once', async () => {
    const owner = await a.createAgent('owner-agent');
    const member = await a.createAgent('member-agent');
    const channel = (await a.call(owner.apiKey, 'POST', '/channels', { kind: 'group', name: 'leaving', memberIds: [member.id] })).json().data;
    expect((await b.call(member.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'before' })).statusCode).toBe(201);
    expect((await a.call(owner.apiKey, 'DELETE', `/channels/${channel.id}/members/${member.id}`)).statusCode).toBe(204);
    expect((await b.call(member.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'after' })).statusCode).toBe(403);

    expect((await b.call(member.apiKey, 'GET', '/profile/read-receipt-emoji')).statusCode).toBe(200);
    const changed = b.changed();
    expect((await a.call(member.apiKey, 'PUT', '/profile/read-receipt-emoji', { emoji: '🦉' })).statusCode).toBe(200);
    await changed;
    expect((await b.call(member.apiKey, 'GET', '/profile/read-receipt-emoji')).json().data.emoji).toBe('🦉');
    // On the process that made the change, at once (no waiting for the bus).
    expect((await a.call(member.apiKey, 'PUT', '/profile/read-receipt-emoji', { emoji: '🐝' })).statusCode).toBe(200);
    expect((await a.call(member.apiKey, 'GET', '/profile/read-receipt-emoji')).json().data.emoji).toBe('🐝');
  });
});
