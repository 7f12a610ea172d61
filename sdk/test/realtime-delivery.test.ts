import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '../src/index.js';
import { event, realtimeSetup, streamEventRequests, waitFor } from './realtime-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

/** A client connected fresh with `heads`. */
async function connected(heads: Record<string, number>) {
  const harness = await realtimeSetup();
  cleanups.push(harness.cleanup);
  harness.gateway.heads = heads;
  const connecting = harness.client.connect();
  const conn = await harness.gateway.nextConnection();
  conn.authenticate();
  await connecting;
  return { ...harness, conn };
}

describe('realtime: exactly once, in order, per stream', () => {
  it('drops duplicates', async () => {
    const { conn, seqs, log } = await connected({ ch_1: 0 });
    conn.sendEvents(...log.range('ch_1', 1, 2), event('ch_1', 2), event('ch_1', 1), ...log.range('ch_1', 3, 3));
    await waitFor(() => seqs('ch_1').includes(3), 'event 3');
    expect(seqs('ch_1')).toEqual([1, 2, 3]);
  });

  it('buffers an out-of-order seq and delivers in order', async () => {
    const { conn, seqs, log } = await connected({ ch_1: 0, ch_2: 10 });
    const [e1, e2, e3] = log.range('ch_1', 1, 3);
    conn.sendEvents(e1, e3, event('ch_2', 11), e2);
    await waitFor(() => seqs('ch_1').length === 3 && seqs('ch_2').length === 1, 'all events');
    expect(seqs('ch_1')).toEqual([1, 2, 3]);
    expect(seqs('ch_2')).toEqual([11]);
  });

  it('fills a seq jump over REST, paging, and handlers see each event once in order', async () => {
    const { conn, seqs, log, rest, client } = await connected({ ch_1: 0 });
    log.pageSize = 2;
    const history = log.range('ch_1', 1, 6);
    conn.sendEvents(history[0], history[5]); // 2..5 lost in fan-out
    await waitFor(() => seqs('ch_1').length === 6, 'the gap filled');
    conn.sendEvents(history[3], ...log.range('ch_1', 7, 7)); // a late duplicate, then live
    await waitFor(() => seqs('ch_1').includes(7), 'event 7');
    expect(seqs('ch_1')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const afters = streamEventRequests(rest.requests).map((r) => new URL(r.url, 'http://x').searchParams.get('after'));
    expect(afters.slice(0, 2)).toEqual(['1', '3']);
    expect(client.cursors.ch_1).toBe(7);
  });

  it('fetches over REST when pongs announce a head ahead of the cursor twice', async () => {
    const { conn, seqs, log, rest } = await connected({ ch_1: 2 });
    log.range('ch_1', 3, 4); // committed, but never fanned out to this connection
    conn.send({ type: 'pong', heads: { ch_1: 4 } }); // could still be in flight: no fetch yet
    conn.send({ type: 'pong', heads: { ch_1: 4 } }); // still behind: fetch
    await waitFor(() => seqs('ch_1').length === 2, 'events from the heads check');
    expect(seqs('ch_1')).toEqual([3, 4]);
    expect(streamEventRequests(rest.requests).map((r) => r.url)).toEqual(['/api/v1/streams/ch_1/events?after=2&limit=1000']);
  });

  it('emits resync and moves the cursor when the gateway says history was pruned', async () => {
    const { conn, seqs, client, events } = await connected({ ch_1: 2 });
    conn.send({ type: 'resync', stream: 'ch_1', fromSeq: 3, oldestSeq: 10, reason: 'retention' });
    conn.sendEvents(event('ch_1', 10), event('ch_1', 11));
    await waitFor(() => seqs('ch_1').length === 2, 'events after the resync');
    expect(events('resync')).toEqual([{ stream: 'ch_1', fromSeq: 3, oldestSeq: 10, reason: 'retention' }]);
    expect(seqs('ch_1')).toEqual([10, 11]);
    expect(client.cursors.ch_1).toBe(11);
  });

  it('emits resync when a REST gap fill finds the history pruned', async () => {
    const { conn, seqs, log, events } = await connected({ ch_1: 2 });
    log.range('ch_1', 8, 9); // retention kept 8 and later only
    conn.sendEvents(event('ch_1', 9));
    await waitFor(() => seqs('ch_1').length === 2, 'events 8-9');
    expect(seqs('ch_1')).toEqual([8, 9]);
    expect(events('resync')).toEqual([expect.objectContaining({ stream: 'ch_1', fromSeq: 3, oldestSeq: 8 })]);
  });

  it('starts following a channel joined live at its first event', async () => {
    const { conn, seqs, client } = await connected({ ch_1: 0 });
    conn.sendEvents(event('ch_9', 14, 'channel.member_added'), event('ch_9', 15));
    await waitFor(() => seqs('ch_9').length === 2, 'events of the new channel');
    expect(client.cursors.ch_9).toBe(15);
  });
});

describe('realtime: handlers', () => {
  it('runs the README snippet shape: event.message ?? event.data is the Message, also for REST-filled events', async () => {
    const { conn, client, log } = await connected({ ch_1: 0 });
    const contents: string[] = [];
    client.on('message', (e) => {
      const msg: Message = e.message ?? e.data;
      contents.push(`${msg.channelId}:${msg.content}:${e.message !== undefined && JSON.stringify(e.message) === JSON.stringify(e.data)}`);
    });
    const [e1, , e3] = log.range('ch_1', 1, 3);
    conn.sendEvents(e1, e3);
    await waitFor(() => contents.length === 3, 'three messages');
    expect(contents).toEqual(['ch_1:hello 1:true', 'ch_1:hello 2:true', 'ch_1:hello 3:true']);
  });

  it('isolates a throwing or rejecting handler: others still run, an error is emitted, the connection stays open', async () => {
    const { conn, client, errors, seqs } = await connected({ ch_1: 0 });
    const after: number[] = [];
    client.on('message', () => { throw new Error('handler bug'); });
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the test: a rejecting async listener must not break delivery
    client.on('message', async () => { throw new Error('async handler bug'); });
    client.once('message', (e) => after.push(-e.seq));
    client.on('message', (e) => { after.push(e.seq); });
    conn.sendEvents(event('ch_1', 1), event('ch_1', 2));
    await waitFor(() => after.length === 3 && errors.length === 4, 'both events and four errors');
    expect(after).toEqual([-1, 1, 2]);
    expect(errors.map((e) => e.message).sort()).toEqual(['async handler bug', 'async handler bug', 'handler bug', 'handler bug']);
    expect(seqs('ch_1')).toEqual([1, 2]);
    expect(client.connectionState).toBe('open');
  });

  it('off() removes on() and once() handlers', async () => {
    const { conn, client, seqs } = await connected({ ch_1: 0 });
    const calls: string[] = [];
    const handler = () => { calls.push('x'); };
    client.on('message', handler);
    client.once('message', handler);
    client.off('message', handler);
    const anyHandler = () => { calls.push('any'); };
    client.onAny(anyHandler);
    client.offAny(anyHandler);
    conn.sendEvents(event('ch_1', 1));
    await waitFor(() => seqs('ch_1').length === 1, 'event 1');
    expect(calls).toEqual([]);
  });
});
