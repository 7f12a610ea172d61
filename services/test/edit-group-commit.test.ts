import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { countMessageStatements } from './support/statement-counter.js';
import { targets } from './support/targets.js';
import { toWire } from '../src/api/routes/channels/messages/service.js';

type Agent = { id: string; apiKey: string };
type Wire = { id: string; seq: number; content: string; streaming: boolean; channelId: string };
type StoredEvent = { type: string; seq: number; data: Wire };

describe.each(targets())('group commit of message edits on %s', (target) => {
  let api: TestApi;
  let alice: Agent;
  let bob: Agent;
  let mallory: Agent;
  /** UPDATE statements on messages (not rows). */
  let statements: () => Promise<number>;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000' });
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    mallory = await api.createAgent('mallory');
    statements = await countMessageStatements(api.ctx.db, 'edit', 'UPDATE');
    // Every key authenticated once, so the bursts below reach the edit path together.
    for (const who of [alice, bob, mallory]) await api.call(who.apiKey, 'GET', '/auth/me');
  });
  afterAll(() => api?.close());

  const group = async (name: string) => (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name, memberIds: [bob.id] })).json().data as { id: string; headSeq: number };
  const send = async (who: Agent, channelId: string, content: string) => {
    const res = await api.call(who.apiKey, 'POST', `/channels/${channelId}/messages`, { content });
    expect(res.statusCode).toBe(201);
    return res.json().data as Wire;
  };
  const edit = (who: Agent, channelId: string, messageId: string, content: string, streaming = true) =>
    api.call(who.apiKey, 'PATCH', `/channels/${channelId}/messages/${messageId}`, { content, streaming });
  const eventsAfter = async (channelId: string, after: number) =>
    (await api.call(alice.apiKey, 'GET', `/streams/${channelId}/events?after=${after}&limit=1000`)).json().data as StoredEvent[];
  const message = async (channelId: string, id: string) => (await api.call(alice.apiKey, 'GET', `/channels/${channelId}/messages/${id}`)).json().data as Wire;
  /** The stream's events after `after` are exactly `after + 1 … head`, and the stream's head is the last of them. */
  const expectGapless = async (channelId: string, after: number) => {
    const events = await eventsAfter(channelId, after);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => after + 1 + i));
    const head = await api.ctx.db.selectFrom('streams').select('head_seq').where('id', '=', channelId).executeTakeFirstOrThrow();
    expect(head.head_seq).toBe(after + events.length);
    return events;
  };

  it('concurrent edits of one message: each caller gets its own edit, one event per edit at consecutive seqs, the last by seq wins', async () => {
    const channel = await group('one-message');
    const sent = await send(alice, channel.id, 'draft');
    const contents = Array.from({ length: 30 }, (_, i) => `token ${i}`);
    const before = await statements();
    const results = await Promise.all(contents.map((c) => edit(alice, channel.id, sent.id, c)));
    expect(results.map((r) => r.statusCode)).toEqual(contents.map(() => 200));
    results.forEach((r, i) => { expect(r.json().data).toMatchObject({ id: sent.id, seq: sent.seq, content: contents[i], streaming: true }); });
    if (target === 'postgres') expect(await statements() - before).toBeLessThan(30);
    const events = await expectGapless(channel.id, sent.seq);
    expect(events).toHaveLength(30);
    events.forEach((e) => { expect(e).toMatchObject({ type: 'message.updated', data: { id: sent.id, seq: sent.seq } }); });
    expect(events.map((e) => e.data.content).sort()).toEqual([...contents].sort());
    // Last writer by seq: the message holds the text of its highest-seq event.
    expect(await message(channel.id, sent.id)).toMatchObject({ content: events.at(-1)?.data.content, streaming: true });
    // A final, non-streaming edit afterwards still lands.
    expect((await edit(alice, channel.id, sent.id, 'done', false)).json().data).toMatchObject({ content: 'done', streaming: false });
    expect(await message(channel.id, sent.id)).toMatchObject({ content: 'done', streaming: false });
  });

  it('concurrent edits of many messages over several channels: gapless streams, each message ends at its last edit', async () => {
    const channels = await Promise.all([group('many-a'), group('many-b'), group('many-c')]);
    const messages: Array<{ author: Agent; sent: Wire }> = [];
    for (let i = 0; i < 9; i++) {
      const author = i % 2 ? bob : alice;
      messages.push({ author, sent: await send(author, channels[i % 3].id, `m${i}`) });
    }
    const heads = new Map<string, number>();
    for (const { sent } of messages) heads.set(sent.channelId, Math.max(heads.get(sent.channelId) ?? 0, sent.seq));
    const edits = Array.from({ length: 45 }, (_, i) => ({ ...messages[i % 9], content: `m${i % 9} v${Math.floor(i / 9)}` }));
    const before = await statements();
    const results = await Promise.all(edits.map(({ author, sent, content }) => edit(author, sent.channelId, sent.id, content)));
    expect(results.map((r) => r.statusCode)).toEqual(edits.map(() => 200));
    results.forEach((r, i) => { expect(r.json().data).toMatchObject({ id: edits[i].sent.id, content: edits[i].content }); });
    if (target === 'postgres') expect(await statements() - before).toBeLessThan(45);
    for (const channel of channels) {
      const events = await expectGapless(channel.id, heads.get(channel.id) ?? 0);
      expect(events).toHaveLength(15);
      for (const { sent } of messages.filter((m) => m.sent.channelId === channel.id)) {
        const mine = events.filter((e) => e.data.id === sent.id);
        expect(mine.map((e) => e.data.content).sort()).toEqual([0, 1, 2, 3, 4].map((v) => `${sent.content} v${v}`));
        expect((await message(channel.id, sent.id)).content).toBe(mine.at(-1)?.data.content);
      }
    }
  });

  // The batch statement builds each event's data itself (in SQL, from the edited row and its
  // sender) while the reply and the publish are built by the api: all three must be the message
  // `messageToWire` makes of the edited row, for every shape a message can have.
  it('each batched edit\'s reply, stored event and published event are the message messageToWire makes of the edited row', async () => {
    const channel = await group('shapes');
    const plain = await send(alice, channel.id, 'plain');
    const call = async (body: Record<string, unknown>) => {
      const res = await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/messages`, body);
      expect(res.statusCode).toBe(201);
      return res.json().data as Wire;
    };
    const shaped = [
      plain,
      await call({ content: 'tool', kind: 'tool_call', intent: 'lookup', clientGeneratedId: 'shape-1',
        metadata: { toolCall: { callId: 'c1', name: 'search', input: { q: 'a "quoted" \\ query', n: [1, 2.5, null, true] }, state: 'running', description: null }, extra: { nested: { deep: 'é🦉' } } } }),
      await call({ content: 'reply in thread', threadRootId: plain.id, metadata: { empty: {}, list: [] } }),
      await call({ content: 'status', kind: 'status', metadata: { status: 'working', progress: 42 } }),
    ];
    const heard: Array<{ seq: number; data: unknown }> = [];
    const unsubscribe = api.ctx.bus.subscribe(channel.id, (m) => { if (m.kind === 'event') heard.push({ seq: m.event.seq, data: m.event.data }); });
    await api.ctx.bus.ready();
    const contents = shaped.map((_, i) => `edited ${i}: "quotes", \\ back\nslash, ünïcödé 🦉 \u2028`);
    const results = await Promise.all(shaped.map((m, i) => edit(alice, channel.id, m.id, contents[i], i % 2 === 0)));
    expect(results.map((r) => r.statusCode)).toEqual(shaped.map(() => 200));
    const events = await eventsAfter(channel.id, shaped.at(-1)!.seq);
    const rows = await api.ctx.db.selectFrom('messages').selectAll().where('id', 'in', shaped.map((m) => m.id)).execute();
    const author = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', alice.id).executeTakeFirstOrThrow();
    for (let i = 0 ; i < 50 && heard.length < shaped.length; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    unsubscribe();
    expect(heard).toHaveLength(shaped.length);
    shaped.forEach((m, i) => {
      const reply = results[i].json().data as Wire;
      const row = rows.find((r) => r.id === m.id)!;
      expect(reply).toEqual(toWire(row, { handle: author.handle, display_name: author.display_name, kind: author.kind }));
      expect(reply).toMatchObject({ content: contents[i], streaming: i % 2 === 0 });
      const stored = events.find((e) => e.data.id === m.id)!;
      expect(stored.data).toEqual(reply);
      expect(heard.find((e) => e.seq === stored.seq)?.data).toEqual(reply);
    });
  });

  // An edit names its message and the channel in its path: the batch must match the two, or an
  // edit through another channel's path would be numbered from that channel's head and its event
  // written to the message's own stream (a seq gap there) instead of answering 404.
  it('an edit of a message through another channel\'s path, batched with edits through its own, is a 404 and leaves both streams gapless', async () => {
    const home = await group('path-home');
    const other = await group('path-other');
    for (let i = 0; i < 12; i++) await send(alice, other.id, `raise the head ${i}`);
    const sent = await send(alice, home.id, 'edited through two paths');
    const otherHead = (await api.ctx.db.selectFrom('streams').select('head_seq').where('id', '=', other.id).executeTakeFirstOrThrow()).head_seq;
    expect(otherHead).toBeGreaterThan(sent.seq + 10);
    const results = await Promise.all(Array.from({ length: 13 }, (_, i) => (i % 4 === 2
      ? edit(alice, other.id, sent.id, `wrong path ${i}`)
      : edit(alice, home.id, sent.id, `right path ${i}`))));
    results.forEach((r, i) => { expect(r.statusCode, `edit ${i}`).toBe(i % 4 === 2 ? 404 : 200); });
    const events = await expectGapless(home.id, sent.seq);
    expect(events).toHaveLength(10);
    expect(events.every((e) => e.data.content.startsWith('right path'))).toBe(true);
    expect(await eventsAfter(other.id, otherHead)).toEqual([]);
    expect((await message(home.id, sent.id)).content).toBe(events.at(-1)?.data.content);
  });

  it('an edit that must be refused fails alone: the valid edits of its batch commit', async () => {
    const channel = await group('refusals');
    const other = await group('elsewhere');
    const mine = await send(alice, channel.id, 'mine');
    const bobs = await send(bob, channel.id, 'bobs');
    const gone = await send(alice, channel.id, 'to delete');
    const foreign = await send(alice, other.id, 'other channel');
    expect((await api.call(alice.apiKey, 'DELETE', `/channels/${channel.id}/messages/${gone.id}`)).statusCode).toBe(200);
    const start = (await api.ctx.db.selectFrom('streams').select('head_seq').where('id', '=', channel.id).executeTakeFirstOrThrow()).head_seq;
    const results = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => edit(alice, channel.id, mine.id, `a${i}`)),
      edit(alice, channel.id, bobs.id, 'not the author'),
      edit(alice, channel.id, gone.id, 'deleted'),
      edit(alice, channel.id, 'msg_doesnotexist', 'no such message'),
      edit(alice, channel.id, foreign.id, 'message of another channel'),
      edit(mallory, channel.id, mine.id, 'not a member'),
      ...Array.from({ length: 6 }, (_, i) => edit(bob, channel.id, bobs.id, `b${i}`)),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([...Array(6).fill(200), 403, 404, 404, 404, 403, ...Array(6).fill(200)]);
    expect(results[6].json().detail).toMatch(/only the sender/i);
    expect(results[10].json().detail).toMatch(/not a member/i);
    const events = await expectGapless(channel.id, start);
    expect(events.map((e) => e.data.content).sort()).toEqual([...Array.from({ length: 6 }, (_, i) => `a${i}`), ...Array.from({ length: 6 }, (_, i) => `b${i}`)].sort());
    // Nothing refused was written: the deleted message stays a tombstone, the others hold their last edit.
    const tombstone = await api.ctx.db.selectFrom('messages').selectAll().where('id', '=', gone.id).executeTakeFirstOrThrow();
    expect(tombstone).toMatchObject({ content: '' });
    expect(tombstone.deleted_at).not.toBeNull();
    expect((await message(other.id, foreign.id)).content).toBe('other channel');
    expect((await message(channel.id, bobs.id)).content).toBe(events.filter((e) => e.data.id === bobs.id).at(-1)?.data.content);
  });

  // The batch reads its messages before it locks their streams: a delete that commits while the
  // batch waits for the lock must win (PGlite has one connection, so nothing can hold a lock there).
  it.skipIf(target !== 'postgres')('an edit whose message is deleted while its batch waits for the stream lock writes nothing', async () => {
    const channel = await group('deleted-while-waiting');
    const sent = await send(alice, channel.id, 'secret draft');
    const headBefore = (await api.ctx.db.selectFrom('streams').select('head_seq').where('id', '=', channel.id).executeTakeFirstOrThrow()).head_seq;
    let answer: Awaited<ReturnType<typeof edit>> | undefined;
    await api.ctx.db.connection().execute(async (holder) => {
      await sql`BEGIN`.execute(holder);
      await sql`SELECT head_seq FROM streams WHERE id = ${channel.id} FOR UPDATE`.execute(holder);
      const pending = edit(alice, channel.id, sent.id, 'secret draft, continued').then((r) => { answer = r; });
      // Wait (polling, no timing assumed) until the edit's statement waits for our lock.
      for (let i = 0; i < 400; i++) {
        const waiting = await sql<{ n: number | string }>`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%DISTINCT ON (message_id)%'`.execute(api.ctx.db);
        if (Number(waiting.rows[0].n) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(answer).toBeUndefined();
      // What the delete path writes to the message, committed while the edit waits.
      await sql`UPDATE messages SET deleted_at = now(), content = '' WHERE id = ${sent.id}`.execute(holder);
      await sql`COMMIT`.execute(holder);
      await pending;
    });
    expect(answer?.statusCode).toBe(404);
    const row = await api.ctx.db.selectFrom('messages').selectAll().where('id', '=', sent.id).executeTakeFirstOrThrow();
    expect(row.content).toBe('');
    expect(await eventsAfter(channel.id, sent.seq)).toEqual([]);
    expect((await api.ctx.db.selectFrom('streams').select('head_seq').where('id', '=', channel.id).executeTakeFirstOrThrow()).head_seq).toBe(headBefore);
  });

  it('sends, edits and deletes racing in one channel leave its stream gapless, every message at its last event', async () => {
    const channel = await group('racing');
    const seeds = [await send(alice, channel.id, 's0'), await send(bob, channel.id, 's1'), await send(alice, channel.id, 's2')];
    const after = seeds[2].seq;
    const authors = [alice, bob, alice];
    // Sends, edits of s0 (alice), of s1 (bob) and of s2 (alice, while she deletes it), interleaved.
    const results = await Promise.all([
      ...Array.from({ length: 36 }, (_, i) => (i % 4 === 0
        ? api.call(authors[i % 2].apiKey, 'POST', `/channels/${channel.id}/messages`, { content: `new${i}` })
        : edit(authors[(i % 4) - 1], channel.id, seeds[(i % 4) - 1].id, `e${i}`))),
      api.call(alice.apiKey, 'DELETE', `/channels/${channel.id}/messages/${seeds[2].id}`),
    ]);
    // Edits of the message being deleted either landed before the delete or were refused after it.
    results.forEach((r) => { expect([200, 201, 404]).toContain(r.statusCode); });
    const events = await expectGapless(channel.id, after);
    expect(events).toHaveLength(results.filter((r) => r.statusCode < 300).length);
    for (const seed of seeds.slice(0, 2)) {
      const last = events.filter((e) => e.type === 'message.updated' && e.data.id === seed.id).at(-1);
      expect(last).toBeDefined();
      expect((await message(channel.id, seed.id)).content).toBe(last?.data.content);
    }
    expect((await message(channel.id, seeds[2].id)).content).toBe('');
  });
});
