import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCursorStore, RealtimeAuthError, RealtimeError, SesameClient, generateKeyPair } from '../src/index.js';
import { CloseCode } from '../src/protocol/index.js';
import { FakeGateway } from './fake-gateway.js';
import { json } from './fake-server.js';
import { event, realtimeSetup, waitFor } from './realtime-harness.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

async function setup(...args: Parameters<typeof realtimeSetup>) {
  const harness = await realtimeSetup(...args);
  cleanups.push(harness.cleanup);
  return harness;
}

describe('realtime: handshake', () => {
  it('authenticates with the API key, starts a fresh client at the heads, and resolves connect() once', async () => {
    const { gateway, client, events } = await setup();
    gateway.heads = { ch_1: 5, 'inbox:pr_me': 2 };
    const first = client.connect();
    const second = client.connect();
    expect(client.connectionState).toBe('connecting');
    const conn = await gateway.nextConnection();
    expect(conn.auth).toEqual({ type: 'auth', apiKey: 'sk_test' }); // no cursors: a fresh start
    expect(client.connectionState).toBe('authenticating');
    conn.authenticate({ sessionId: 'sess_a' });
    await Promise.all([first, second]);
    await client.connect(); // already open: harmless
    expect(gateway.connections).toHaveLength(1);
    expect(client.connectionState).toBe('open');
    expect(client.cursors).toEqual({ ch_1: 5, 'inbox:pr_me': 2 });
    expect(events('connected')).toEqual([{ sessionId: 'sess_a', resumed: false, principal: expect.objectContaining({ id: 'pr_me' }) }]);
    await waitFor(() => conn.received.some((f) => f.type === 'meta'), 'meta frame');
    expect(conn.received.find((f) => f.type === 'meta')).toMatchObject({ runtime: '@sesamespace/sdk', version: expect.any(String) });
  });

  it('rejects connect() with RealtimeError when wsUrl is missing', async () => {
    const client = new SesameClient({ apiUrl: 'http://127.0.0.1:1', apiKey: 'sk_test' });
    const error = (await client.connect().catch((e: unknown) => e)) as RealtimeError;
    expect(error).toBeInstanceOf(RealtimeError);
    expect(error.type).toBe('urn:sesame:error:realtime-not-configured');
    expect(error.message).toMatch(/wsUrl/);
  });

  it('treats AuthFailed (4001) with an API key as fatal: connect() rejects, no reconnect loop', async () => {
    const { gateway, client, events, errors } = await setup();
    const connecting = client.connect();
    (await gateway.nextConnection()).reject('unknown API key');
    const error = await connecting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeAuthError);
    expect(error).toMatchObject({ closeCode: CloseCode.AuthFailed, detail: 'unknown API key' });
    expect(client.connectionState).toBe('closed');
    expect(errors).toEqual([error]);
    expect(events('disconnected')).toEqual([{ code: 4001, reason: 'unknown API key', willReconnect: false }]);
    expect(events('reconnecting')).toEqual([]);
    // Reconnect delays are at most 5 ms here: a loop would have opened another socket by now.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(gateway.connections).toHaveLength(1);
  });
});

describe('realtime: resume', () => {
  it('resumes with its cursors after a killed node (1006) and a slow-consumer close (4008), without duplicates', async () => {
    const { gateway, client, seqs, events } = await setup();
    gateway.heads = { ch_1: 0 };
    const connecting = client.connect();
    const conn1 = await gateway.nextConnection();
    conn1.authenticate();
    await connecting;
    conn1.sendEvents(event('ch_1', 1), event('ch_1', 2));
    await waitFor(() => seqs('ch_1').length === 2, 'events 1-2');

    conn1.terminate();
    const conn2 = await gateway.nextConnection();
    expect(conn2.auth.cursors).toEqual({ ch_1: 2 });
    conn2.authenticate();
    conn2.sendEvents(event('ch_1', 2), event('ch_1', 3)); // replay overlapping what was seen
    await waitFor(() => seqs('ch_1').includes(3), 'event 3');

    conn2.close(CloseCode.SlowConsumer, 'send buffer full');
    const conn3 = await gateway.nextConnection();
    expect(conn3.auth.cursors).toEqual({ ch_1: 3 });
    conn3.authenticate();
    conn3.sendEvents(event('ch_1', 4));
    await waitFor(() => seqs('ch_1').includes(4), 'event 4');

    expect(seqs('ch_1')).toEqual([1, 2, 3, 4]);
    expect(events('disconnected').map((d) => [d.code, d.willReconnect])).toEqual([[1006, true], [4008, true]]);
    expect(events('connected').map((c) => c.resumed)).toEqual([false, true, true]);
    expect(events('reconnecting').map((r) => r.attempt)).toEqual([1, 1]);
  });

  it('keeps the replay of a channel joined while away (no cursor yet), instead of skipping it to the head', async () => {
    const store = new MemoryCursorStore({ ch_1: 4 });
    const { gateway, client, seqs } = await setup({ cursorStore: store });
    const connecting = client.connect();
    const conn = await gateway.nextConnection();
    expect(conn.auth.cursors).toEqual({ ch_1: 4 });
    conn.authenticate({ heads: { ch_1: 4, ch_2: 9 } });
    await connecting;
    conn.sendEvents(event('ch_2', 7, 'channel.member_added'), event('ch_2', 8), event('ch_2', 9));
    conn.send({ type: 'replayed', stream: 'ch_2', seq: 9 });
    await waitFor(() => seqs('ch_2').length === 3, 'replay of ch_2');
    expect(client.cursors).toEqual({ ch_1: 4, ch_2: 9 });
  });

  it('starts a stream it had no cursor for at `replayed.seq` when nothing was replayed', async () => {
    const { gateway, client, seqs } = await setup({ cursorStore: new MemoryCursorStore({ ch_1: 1 }) });
    const connecting = client.connect();
    const conn = await gateway.nextConnection();
    conn.authenticate({ heads: { ch_1: 1, ch_2: 6 } });
    await connecting;
    conn.send({ type: 'replayed', stream: 'ch_2', seq: 6 });
    conn.sendEvents(event('ch_2', 7));
    await waitFor(() => seqs('ch_2').length === 1, 'live ch_2 event');
    expect(client.cursors.ch_2).toBe(7);
  });
});

describe('realtime: reconnect policy', () => {
  it('gives up after maxReconnectAttempts consecutive failures, with error and disconnected', async () => {
    const { gateway, client, events, errors } = await setup({ maxReconnectAttempts: 3 });
    const connecting = client.connect();
    (await gateway.nextConnection()).authenticate();
    await connecting;
    await gateway.close(); // every later attempt is refused
    await waitFor(() => client.connectionState === 'closed', 'giving up');
    expect(events('reconnecting').map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RealtimeError);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- toBeInstanceOf checked it just above
    expect((errors[0] as RealtimeError).type).toBe('urn:sesame:error:realtime-gave-up');
    expect(events('disconnected').map((d) => d.willReconnect)).toEqual([true, false]);
  });

  it('counts consecutive failures only: a successful auth resets the counter', async () => {
    const { gateway, client, events } = await setup({ maxReconnectAttempts: 2 });
    const connecting = client.connect();
    (await gateway.nextConnection()).authenticate();
    await connecting;
    gateway.connections[0].terminate();
    (await gateway.nextConnection()).close(CloseCode.InternalError, 'boom'); // attempt 1 fails
    (await gateway.nextConnection()).authenticate(); // attempt 2 succeeds
    await waitFor(() => events('connected').length === 2, 'second connected');
    gateway.connections[2].terminate();
    (await gateway.nextConnection()).authenticate();
    await waitFor(() => events('connected').length === 3, 'third connected');
    expect(events('reconnecting').map((r) => r.attempt)).toEqual([1, 2, 1]);
  });

  it('moves to the next wsUrl on each reconnect attempt', async () => {
    const other = await FakeGateway.start();
    cleanups.push(() => other.close());
    const { gateway, client } = await setup((first) => ({ wsUrl: [first.url, other.url] }));
    const connecting = client.connect();
    (await gateway.nextConnection()).authenticate();
    await connecting;
    gateway.connections[0].terminate();
    const onOther = await other.nextConnection();
    onOther.authenticate();
    await waitFor(() => client.connectionState === 'open', 'open on the second node');
    onOther.terminate();
    (await gateway.nextConnection()).authenticate();
    await waitFor(() => gateway.connections.length === 2 && client.connectionState === 'open', 'back on the first node');
  });

  it('disconnect() closes with 1000, does not reconnect and saves the cursors', async () => {
    const store = new MemoryCursorStore();
    const { gateway, client, seqs, events } = await setup({ cursorStore: store });
    gateway.heads = { ch_1: 3 };
    const connecting = client.connect();
    const conn = await gateway.nextConnection();
    conn.authenticate();
    await connecting;
    conn.sendEvents(event('ch_1', 4));
    await waitFor(() => seqs('ch_1').length === 1, 'event 4');
    await client.disconnect();
    await waitFor(() => conn.closed, 'server sees the close');
    expect(conn.closeCode).toBe(1000);
    expect(client.connectionState).toBe('closed');
    expect(await store.load()).toEqual({ ch_1: 4 });
    expect(events('disconnected')).toEqual([{ code: 1000, reason: 'client disconnect', willReconnect: false }]);
    await client.disconnect(); // harmless twice
    expect(gateway.connections).toHaveLength(1);

    const again = client.connect(); // starts over, resuming from the cursors
    const conn2 = await gateway.nextConnection();
    expect(conn2.auth.cursors).toEqual({ ch_1: 4 });
    conn2.authenticate();
    await again;
    expect(events('connected').map((c) => c.resumed)).toEqual([false, true]);
  });

  it('notices at the first pong that a resume replay fell short of the authenticated heads, and fills it', async () => {
    const { gateway, client, seqs, log } = await setup({ cursorStore: new MemoryCursorStore({ ch_1: 2 }) });
    log.range('ch_1', 3, 5);
    const connecting = client.connect();
    const conn = await gateway.nextConnection();
    conn.authenticate({ heads: { ch_1: 5 } });
    await connecting;
    conn.sendEvents(event('ch_1', 3)); // the replay stops short of 5
    conn.send({ type: 'pong', heads: { ch_1: 5 } });
    await waitFor(() => seqs('ch_1').length === 3, 'events 3-5');
    expect(seqs('ch_1')).toEqual([3, 4, 5]);
  });
});

describe('realtime: credentials', () => {
  function agentApi() {
    let issued = 0;
    return async (req: { url: string }, res: Parameters<typeof json>[0]) => {
      if (req.url === '/api/v1/auth/challenge') { json(res, 200, { data: { nonce: 'n', expiresAt: '' } }); return; }
      if (req.url === '/api/v1/auth/verify' || req.url === '/api/v1/auth/refresh') {
        issued++;
        json(res, 200, { data: { accessToken: `tok${issued}`, refreshToken: `rt${issued}`, expiresIn: 900, tokenType: 'Bearer', principal: {} } }); return;
      }
      json(res, 404, {});
    };
  }

  it('Ed25519 agent: refreshes once on AuthFailed and on SessionExpired (4005), then resumes', async () => {
    const { gateway, client, events, rest } = await setup({ agent: { handle: 'bot', privateKey: generateKeyPair().privateKey } }, agentApi());
    gateway.heads = { ch_1: 1 };
    const connecting = client.connect();
    const conn1 = await gateway.nextConnection();
    expect(conn1.auth).toEqual({ type: 'auth', token: 'tok1' });
    conn1.reject('token expired');
    const conn2 = await gateway.nextConnection();
    expect(conn2.auth.token).toBe('tok2');
    conn2.authenticate();
    await connecting;
    conn2.close(CloseCode.SessionExpired, 'token revoked');
    const conn3 = await gateway.nextConnection();
    expect(conn3.auth).toEqual({ type: 'auth', token: 'tok3', cursors: { ch_1: 1 } });
    conn3.authenticate();
    await waitFor(() => events('connected').length === 2, 'resumed');
    expect(rest.requests.filter((r) => r.url === '/api/v1/auth/refresh').map((r) => r.body.refreshToken)).toEqual(['rt1', 'rt2']);
  });

  it('Ed25519 agent: a second AuthFailed right after the refresh is fatal', async () => {
    const { gateway, client } = await setup({ agent: { handle: 'bot', privateKey: generateKeyPair().privateKey } }, agentApi());
    const connecting = client.connect();
    (await gateway.nextConnection()).reject();
    (await gateway.nextConnection()).reject('agent disabled');
    await expect(connecting).rejects.toMatchObject({ name: 'RealtimeAuthError', detail: 'agent disabled' });
    expect(gateway.connections).toHaveLength(2);
  });
});

describe('realtime: heartbeat and ephemeral frames', () => {
  it('pings at the announced interval, and drops a silent socket to reconnect', async () => {
    const { gateway, client, events } = await setup();
    gateway.heartbeatIntervalMs = 20;
    const connecting = client.connect();
    const conn1 = await gateway.nextConnection();
    conn1.authenticate();
    await connecting;
    await waitFor(() => conn1.received.filter((f) => f.type === 'ping').length >= 2, 'pings');
    gateway.answerPings = false; // the node is alive at TCP level but says nothing
    const conn2 = await gateway.nextConnection();
    expect(events('disconnected')[0]).toMatchObject({ code: 1006, willReconnect: true });
    expect(events('disconnected')[0].reason).toMatch(/nothing received/);
    gateway.answerPings = true;
    conn2.authenticate();
    await waitFor(() => client.connectionState === 'open', 'reconnected');
  });

  it('delivers typing and presence, sends typing, and re-sends presence after a reconnect', async () => {
    const { gateway, client } = await setup();
    const typing: unknown[] = [];
    const presence: unknown[] = [];
    const any: string[] = [];
    client.on('typing', (e) => typing.push(e));
    client.on('presence', (e) => presence.push(e));
    client.onAny((e) => any.push(e.type));
    const connecting = client.connect();
    const conn1 = await gateway.nextConnection();
    conn1.authenticate();
    await connecting;
    client.sendTyping('ch_1');
    client.setPresence('away');
    const typingFrame = { type: 'typing', channelId: 'ch_1', principalId: 'pr_2', handle: 'two', expiresAt: 'soon' };
    conn1.send(typingFrame);
    conn1.send({ type: 'presence', principalId: 'pr_2', status: 'online', at: 'now' });
    conn1.send({ type: 'something.new', whatever: true }); // unknown frames are ignored
    await waitFor(() => presence.length === 1, 'presence event');
    expect(typing).toEqual([typingFrame]);
    expect(any).toEqual(['typing', 'presence']);
    await waitFor(() => conn1.received.some((f) => f.type === 'presence'), 'presence frame');
    expect(conn1.received.filter((f) => f.type !== 'ping' && f.type !== 'meta')).toEqual([
      { type: 'typing', channelId: 'ch_1' }, { type: 'presence', status: 'away' },
    ]);
    conn1.terminate();
    const conn2 = await gateway.nextConnection();
    conn2.authenticate();
    await waitFor(() => conn2.received.some((f) => f.type === 'presence'), 'presence re-sent');
    expect(conn2.received.find((f) => f.type === 'presence')).toEqual({ type: 'presence', status: 'away' });
  });

  it('emits one presence event per change of a presence_batch frame, in order', async () => {
    const { gateway, client } = await setup();
    const presence: unknown[] = [];
    const any: string[] = [];
    client.on('presence', (e) => presence.push(e));
    client.onAny((e) => any.push(e.type));
    const connecting = client.connect();
    const conn = await gateway.nextConnection();
    conn.authenticate();
    await connecting;
    conn.send({ type: 'presence_batch', presence: [
      { principalId: 'pr_2', status: 'online', at: 't1' }, { principalId: 'pr_3', status: 'online', at: 't2' }, { principalId: 'pr_2', status: 'away', at: 't3' },
    ] });
    await waitFor(() => presence.length === 3, 'presence events');
    expect(presence).toEqual([
      { type: 'presence', principalId: 'pr_2', status: 'online', at: 't1' },
      { type: 'presence', principalId: 'pr_3', status: 'online', at: 't2' },
      { type: 'presence', principalId: 'pr_2', status: 'away', at: 't3' },
    ]);
    expect(any).toEqual(['presence', 'presence', 'presence']);
  });

  it('sends presence subscriptions made before connecting, and all of them again after a reconnect', async () => {
    const { gateway, client } = await setup();
    client.subscribePresence(['pr_2', 'pr_3']);
    const connecting = client.connect();
    const conn1 = await gateway.nextConnection();
    conn1.authenticate();
    await connecting;
    await waitFor(() => conn1.received.some((f) => f.type === 'presence_subscribe'), 'subscription sent');
    client.subscribePresence(['pr_3', 'pr_4']);
    client.unsubscribePresence(['pr_2', 'pr_9']);
    await waitFor(() => conn1.received.some((f) => f.type === 'presence_unsubscribe'), 'unsubscription sent');
    expect(conn1.received.filter((f) => f.type.startsWith('presence_'))).toEqual([
      { type: 'presence_subscribe', principalIds: ['pr_2', 'pr_3'] },
      { type: 'presence_subscribe', principalIds: ['pr_4'] },
      { type: 'presence_unsubscribe', principalIds: ['pr_2'] },
    ]);
    conn1.terminate();
    const conn2 = await gateway.nextConnection();
    conn2.authenticate();
    await waitFor(() => conn2.received.some((f) => f.type === 'presence_subscribe'), 'subscriptions re-sent');
    expect(conn2.received.find((f) => f.type === 'presence_subscribe')).toEqual({ type: 'presence_subscribe', principalIds: ['pr_3', 'pr_4'] });
    expect(() => { client.subscribePresence(Array.from({ length: 1_000 }, (_, i) => `pr_x${i}`)); }).toThrow(RangeError);
  });
});
