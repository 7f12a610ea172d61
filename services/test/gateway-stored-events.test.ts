import { toWireEventFrame, type SesameEvent } from '@sesamespace/sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMessage } from '../src/api/routes/channels/messages/service.js';
import { readMovedHeads } from '../src/gateway/stored-events.js';
import { StreamHub } from '../src/gateway/stream-hub.js';
import type { Principal } from '../src/shared/db/schema.js';
import { eventJson, readEvents, withEvents } from '../src/shared/events.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

/**
 * Replay frames built around the stored payload text (no parse/serialise per event), reads
 * shared by the followers of one stream, and the head poll that leaves in-flight publishes to
 * the bus. The hub runs on the test api's context; nothing is published unless a test says so.
 */
describe.each(targets())('gateway stored events on %s', (target) => {
  let api: TestApi;
  let hub: StreamHub;
  let alice: Principal;
  let aliceKey: string;
  let channelId: string;
  let otherChannelId: string;
  const published: SesameEvent[] = [];
  const keep = (events: SesameEvent[]) => { published.push(...events); };

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_HEAD_POLL_INTERVAL_MS: '3600000' });
    hub = new StreamHub(api.ctx);
    const agent = await api.createAgent('stored-alice');
    aliceKey = agent.apiKey;
    alice = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', agent.id).executeTakeFirstOrThrow();
    channelId = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'group', name: 'stored', memberIds: [] })).json().data.id;
    otherChannelId = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'group', name: 'stored-2', memberIds: [] })).json().data.id;
  });
  afterAll(async () => {
    hub.close();
    await api.close();
  });

  const head = async (stream: string) => (await readEvents(api.ctx.db, stream, 0, 10_000)).at(-1)?.seq ?? 0;

  it('builds each frame once from the stored text, equal to serialising the event per socket, key order included', async () => {
    const after = await head(channelId);
    await sendMessage({ ...api.ctx, publish: keep }, alice, channelId, { content: 'quote " backslash \\ newline \n emoji 🦀 and </script>' });
    await withEvents(api.ctx.db, alice.workspace_id, keep, (_trx, events) => events.append(channelId, 'test.odd', {
      nested: { list: [1, 2.5, -3e-7, null, true], text: 'ünïcödé \u2028' }, zeta: 1, alpha: '', big: 2 ** 53 - 1,
    }));
    const stored = await hub.read(channelId, after, 10);
    expect(stored.map((s) => s.event.seq)).toEqual(published.slice(-2).map((e) => e.seq));
    for (const [i, { event, frame }] of stored.entries()) {
      const live = published.at(-2 + i)!;
      const perSocket = JSON.parse(JSON.stringify(toWireEventFrame(live))) as Record<string, unknown>;
      const built = JSON.parse(frame.toString('utf8')) as Record<string, unknown>;
      expect(built).toEqual(perSocket);
      expect(Object.keys(built)).toEqual(Object.keys(perSocket));
      // The event handed to the session reads like the stored one (its payload parsed on demand).
      const [plain] = await readEvents(api.ctx.db, channelId, event.seq - 1, 1);
      expect({ type: event.type, stream: event.stream, seq: event.seq, at: event.at }).toEqual({ type: plain.type, stream: plain.stream, seq: plain.seq, at: plain.at });
      expect(event.data).toEqual(plain.data);
      expect(JSON.parse(JSON.stringify(event))).toEqual(JSON.parse(JSON.stringify(plain)));
      expect(event.at).toBe(live.at);
    }
  });

  it('frames a payload text as given, message or not', () => {
    const stream = JSON.stringify('ch_"x"');
    const at = '2026-01-01T00:00:00.000Z';
    expect(eventJson({ type: 'message', seq: 7, at, data: '{"id": "m"}' }, stream, true))
      .toBe('{"type":"message","stream":"ch_\\"x\\"","seq":7,"at":"2026-01-01T00:00:00.000Z","message":{"id": "m"}}');
    expect(eventJson({ type: 'task.updated', seq: 8, at, data: '[1, 2]' }, stream))
      .toBe('{"type":"task.updated","stream":"ch_\\"x\\"","seq":8,"data":[1, 2],"at":"2026-01-01T00:00:00.000Z"}');
  });

  it('answers REST pages built around the stored text exactly as the parsed events, with the pagination', async () => {
    const key = aliceKey;
    const all = await readEvents(api.ctx.db, channelId, 0, 10_000);
    const first = await api.call(key, 'GET', `/streams/${channelId}/events?after=0&limit=${String(all.length - 1)}`);
    expect(first.statusCode).toBe(200);
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.json()).toEqual({ data: JSON.parse(JSON.stringify(all.slice(0, -1))), pagination: { hasMore: true, nextCursor: String(all.at(-2)!.seq) } });
    const rest = await api.call(key, 'GET', `/streams/${channelId}/events?after=${String(all.at(-2)!.seq)}`);
    expect(rest.json()).toEqual({ data: JSON.parse(JSON.stringify(all.slice(-1))), pagination: { hasMore: false, nextCursor: null } });
  });

  it('shares one read between identical requests of one tick, never with a later one, and keeps streams apart in order', async () => {
    const after = await head(channelId);
    const afterOther = await head(otherChannelId);
    for (let i = 0; i < 3; i++) {
      await sendMessage({ ...api.ctx, publish: () => {} }, alice, channelId, { content: `a${i}` });
      await sendMessage({ ...api.ctx, publish: () => {} }, alice, otherChannelId, { content: `b${i}` });
    }
    const first = hub.read(channelId, after, 10);
    const same = hub.read(channelId, after, 10);
    const other = hub.read(otherChannelId, afterOther, 10);
    expect(same).toBe(first);
    expect(other).not.toBe(first);
    const [mine, theirs] = await Promise.all([first, other]);
    expect(mine.map((s) => (s.event.data as { content: string }).content)).toEqual(['a0', 'a1', 'a2']);
    expect(theirs.map((s) => (s.event.data as { content: string }).content)).toEqual(['b0', 'b1', 'b2']);
    expect(mine.map((s) => s.event.seq)).toEqual([after + 1, after + 2, after + 3]);

    await sendMessage({ ...api.ctx, publish: () => {} }, alice, channelId, { content: 'a3' });
    const later = hub.read(channelId, after, 10);
    expect(later).not.toBe(first);
    expect((await later).map((s) => (s.event.data as { content: string }).content)).toEqual(['a0', 'a1', 'a2', 'a3']);
  });

  it('leaves a head the bus has not delivered yet to the bus for one poll, then wakes listeners for it', async () => {
    const heads: number[] = [];
    const unfollow = await hub.follow(channelId, { onHead: (h) => heads.push(h) });
    await hub.pollHeads();
    await hub.pollHeads(); // two polls: the head as it stands is settled
    const known = heads.at(-1)!;
    expect(known).toBe(await head(channelId));
    // Committed; its publish is "on its way" (never, here).
    const { message } = await sendMessage({ ...api.ctx, publish: () => {} }, alice, channelId, { content: 'in flight' });
    await hub.pollHeads();
    expect(heads.at(-1)).toBe(known);
    await hub.pollHeads(); // still not delivered a poll later: lost, to be read from Postgres
    expect(heads.at(-1)).toBe(message.seq);
    unfollow();
  });

  it('asks Postgres only for the heads that moved since the previous poll', async () => {
    const missing = 'chn_not_a_stream';
    // Not read yet (-1): every stream that exists, none that does not.
    const first = await readMovedHeads(api.ctx.db, { [channelId]: -1, [otherChannelId]: -1, [missing]: -1 });
    expect(first).toEqual(new Map([[channelId, await head(channelId)], [otherChannelId, await head(otherChannelId)]]));
    // Nothing moved: nothing comes back.
    expect((await readMovedHeads(api.ctx.db, Object.fromEntries(first))).size).toBe(0);
    const { message } = await sendMessage({ ...api.ctx, publish: () => {} }, alice, channelId, { content: 'moved' });
    expect(await readMovedHeads(api.ctx.db, Object.fromEntries(first))).toEqual(new Map([[channelId, message.seq]]));
  });

  it('wakes the listeners of every followed stream at each poll, moved or not (head 0 for a stream Postgres has none for)', async () => {
    const heard = new Map<string, number[]>();
    const listen = (stream: string) => hub.follow(stream, { onHead: (h) => { heard.set(stream, [...(heard.get(stream) ?? []), h]); } });
    const unfollows = await Promise.all([channelId, otherChannelId, 'chn_not_a_stream'].map(listen));
    await hub.pollHeads();
    await hub.pollHeads();
    const { message } = await sendMessage({ ...api.ctx, publish: () => {} }, alice, channelId, { content: 'lost' });
    await hub.pollHeads();
    await hub.pollHeads();
    const other = await head(otherChannelId);
    // The first poll leaves every head to the bus (nothing heard from it yet), later ones wake up to it.
    expect(heard.get(otherChannelId)).toEqual([0, other, other, other]);
    expect(heard.get(channelId)).toEqual([0, message.seq - 1, message.seq - 1, message.seq]);
    expect(heard.get('chn_not_a_stream')).toEqual([0, 0, 0, 0]);
    for (const unfollow of unfollows) unfollow();
  });

  // A stream's row goes when its workspace is deleted (the row cascades): the poll must then
  // see head 0, as for a stream that never existed, not keep the head it read last, or a
  // listener behind that head would read the gap from Postgres at every poll, for ever.
  it('takes a stream whose row is gone for head 0, not the head it read last', async () => {
    const gone = (await api.call(aliceKey, 'POST', '/channels', { kind: 'group', name: 'stored-gone', memberIds: [] })).json().data.id as string;
    await sendMessage({ ...api.ctx, publish: () => {} }, alice, gone, { content: 'soon gone' });
    const last = await head(gone);
    expect(last).toBeGreaterThan(0);
    expect(await readMovedHeads(api.ctx.db, { [gone]: last })).toEqual(new Map());
    const heads: number[] = [];
    const unfollow = await hub.follow(gone, { onHead: (h) => heads.push(h) });
    await hub.pollHeads();
    await hub.pollHeads();
    expect(heads).toEqual([0, last]);
    await api.ctx.db.deleteFrom('streams').where('id', '=', gone).execute();
    expect(await readMovedHeads(api.ctx.db, { [gone]: last, [otherChannelId]: await head(otherChannelId) })).toEqual(new Map([[gone, 0]]));
    await hub.pollHeads();
    await hub.pollHeads();
    expect(heads).toEqual([0, last, 0, 0]);
    unfollow();
  });

  it('wakes listeners for any head at once after a bus reconnect', async () => {
    const heads: number[] = [];
    const unfollow = await hub.follow(channelId, { onHead: (h) => heads.push(h) });
    await hub.pollHeads();
    const { message } = await sendMessage({ ...api.ctx, publish: () => {} }, alice, channelId, { content: 'lost in an outage' });
    await hub.pollHeads(true);
    expect(heads.at(-1)).toBe(message.seq);
    unfollow();
  });
});
