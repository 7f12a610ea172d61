import { SesameClient, type Message } from '@sesamespace/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TestCluster, type Node } from './support/cluster.js';
import { hasServices, requireServices } from './support/targets.js';

/**
 * The realtime promise under failure, on the production topology: a separate api process and two
 * gateway processes on real Postgres and a Redis of the test's own, SDK clients spread over both
 * gateways. Each scenario sends thousands of messages while something breaks, then checks that
 * every client's handlers saw every message exactly once, in seq order.
 */
const enabled = hasServices() || Boolean(process.env.CI);

describe.runIf(enabled)('chaos: separate api + two gateways on Postgres and Redis', () => {
  let cluster: TestCluster;
  let admin: SesameClient;
  const clients: SesameClient[] = [];

  beforeAll(async () => {
    requireServices();
    cluster = await TestCluster.start({ gateways: 2 });
    admin = new SesameClient({ apiUrl: cluster.apiUrl, apiKey: cluster.adminKey, maxRetries: 8 });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await cluster?.stop();
  });

  /** A receiving agent whose client starts on gateway `home` and fails over to the others. */
  async function receiver(handle: string, home: number) {
    const { agent, apiKey } = await admin.createAgent({ handle });
    const wsUrl = [...cluster.wsUrls.slice(home), ...cluster.wsUrls.slice(0, home)];
    const client = new SesameClient({ apiUrl: cluster.apiUrl, wsUrl, apiKey, reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 1_000, maxReconnectAttempts: 100 });
    clients.push(client);
    const seen = new Map<string, Message[]>();
    client.on('message', (event) => {
      const message = (event.message ?? event.data);
      const list = seen.get(message.channelId) ?? [];
      list.push(message);
      seen.set(message.channelId, list);
    });
    await client.connect();
    return { agent, client, seen };
  }

  async function sender(handle: string) {
    const { agent, apiKey } = await admin.createAgent({ handle });
    return { agent, client: new SesameClient({ apiUrl: cluster.apiUrl, apiKey, maxRetries: 20 }) };
  }

  /**
   * Sends `count` messages from each sender into `channelId`, `inFlight` at a time per sender,
   * calling `midway` once a third are sent. A send that fails (the api is down) is retried with
   * the same clientGeneratedId, so it is stored once. Returns the stored messages by id.
   */
  async function flood(channelId: string, senders: SesameClient[], count: number, midway: () => Promise<void>, inFlight = 4) {
    const stored = new Map<string, Message>();
    let sent = 0;
    let fired: Promise<void> | undefined;
    await Promise.all(senders.map(async (client, s) => {
      let next = 0;
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < count) {
          const i = next++;
          for (;;) {
            try {
              const message = await client.sendMessage(channelId, { content: `s${s}-${i}`, kind: 'text', clientGeneratedId: `s${s}-${i}` });
              stored.set(message.id, message);
              break;
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          if (++sent === Math.floor((count * senders.length) / 3)) fired = midway();
        }
      }));
    }));
    await fired;
    return stored;
  }

  /** Every receiver's handlers got exactly the stored messages of the channel, once each, in seq order. */
  async function expectExactlyOnceInOrder(receivers: Array<{ seen: Map<string, Message[]> }>, channelId: string, stored: Map<string, Message>) {
    const expected = [...stored.values()].sort((a, b) => a.seq - b.seq).map((m) => m.id);
    const deadline = Date.now() + 60_000;
    for (const r of receivers) {
      while ((r.seen.get(channelId)?.length ?? 0) < expected.length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
      // Let anything extra (a duplicate) arrive before judging.
      await new Promise((res) => setTimeout(res, 300));
      const got = r.seen.get(channelId) ?? [];
      expect(got.map((m) => m.id)).toEqual(expected);
    }
  }

  async function setup(name: string, receivers: number) {
    const rs = await Promise.all(Array.from({ length: receivers }, (_, i) => receiver(`${name}-r${i}`, i % 2)));
    const ss = await Promise.all([sender(`${name}-s0`), sender(`${name}-s1`)]);
    const { channel } = await ss[0].client.createChannel({ kind: 'group', name, memberIds: [...rs.map((r) => r.agent.id), ss[1].agent.id] });
    return { receivers: rs, senders: ss.map((s) => s.client), channelId: channel.id };
  }

  it('(a) kill -9 a gateway mid-stream: its clients resume on the other node, nothing lost, nothing twice', async () => {
    const { receivers, senders, channelId } = await setup('kill', 6);
    const victim: Node = cluster.gateways[0];
    let disconnected = 0;
    for (const r of receivers) r.client.on('disconnected', () => { disconnected++; });
    const stored = await flood(channelId, senders, 1_000, () => cluster.kill(victim));
    expect(stored.size).toBe(2_000);
    await expectExactlyOnceInOrder(receivers, channelId, stored);
    expect(disconnected).toBeGreaterThanOrEqual(3); // the victim's clients did drop
    await cluster.restart(victim);
  }, 180_000);

  it('(b) restart Redis mid-stream: every client still gets every message once, in order', async () => {
    const { receivers, senders, channelId } = await setup('redis', 4);
    const stored = await flood(channelId, senders, 750, () => cluster.redis.restart());
    await expectExactlyOnceInOrder(receivers, channelId, stored);
  }, 180_000);

  it('(c) restart the api mid-stream: senders retry idempotently, clients miss nothing', async () => {
    const { receivers, senders, channelId } = await setup('api', 4);
    const stored = await flood(channelId, senders, 750, () => cluster.restart(cluster.api));
    expect(stored.size).toBe(1_500);
    await expectExactlyOnceInOrder(receivers, channelId, stored);
  }, 180_000);

  it('(d) a publish that never reaches Redis: the gap is filled', async () => {
    const { receivers, senders, channelId } = await setup('lost', 2);
    // Stop Redis for good while sending: every publish in that window is lost, none of the writes.
    const stored = await flood(channelId, senders, 300, async () => { await cluster.redis.kill(); });
    await expectExactlyOnceInOrder(receivers, channelId, stored);
    await cluster.redis.restart();
  }, 180_000);

  it('(e) a slow consumer is closed with 4008 while the others keep receiving', async () => {
    const { receivers, senders, channelId } = await setup('slow', 2);
    const { agent, apiKey } = await admin.createAgent({ handle: 'slow-reader' });
    await senders[0].addChannelMember(channelId, agent.id);
    const slow = new WebSocket(`${cluster.wsUrls[0]}/v1/connect`);
    await new Promise((r) => slow.once('open', r));
    slow.send(JSON.stringify({ type: 'auth', apiKey }));
    await new Promise((r) => slow.once('message', r));
    const closed = new Promise<number>((resolve) => slow.once('close', (code) => { resolve(code); }));
    const ping = setInterval(() => { slow.send(JSON.stringify({ type: 'ping' })); }, 1_000);
    (slow as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const big = 'y'.repeat(30_000);
    const stored = new Map<string, Message>();
    // ~15 MB in all, past the kernel's socket buffers plus the 4 MiB send buffer.
    for (let i = 0; i < 500; i++) {
      const m = await senders[i % 2].sendMessage(channelId, { content: `${i} ${big}`, kind: 'text' });
      stored.set(m.id, m);
    }
    await expectExactlyOnceInOrder(receivers, channelId, stored);
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(4008);
    clearInterval(ping);
  }, 180_000);

  it('two SDK clients on different gateway nodes converse, with typing', async () => {
    const a = await receiver('conv-a', 0);
    const b = await receiver('conv-b', 1);
    const typing: string[] = [];
    b.client.on('typing', (event) => { typing.push(event.principalId); });
    const { channel } = await a.client.createDm(b.agent.id);
    await new Promise((r) => setTimeout(r, 100)); // B's gateway starts following the new DM
    a.client.sendTyping(channel.id);
    const deadline = Date.now() + 10_000;
    while (!typing.includes(a.agent.id) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      if (!typing.includes(a.agent.id)) a.client.sendTyping(channel.id);
    }
    expect(typing).toContain(a.agent.id);
    const question = await a.client.sendMessage(channel.id, { content: 'ping from node 0', kind: 'text' });
    const answer = await b.client.sendMessage(channel.id, { content: 'pong from node 1', kind: 'text' });
    const stored = new Map([[question.id, question], [answer.id, answer]]);
    await expectExactlyOnceInOrder([a, b], channel.id, stored);
  }, 60_000);

  it('(f) presence across nodes: online while connected anywhere, offline when the last node closes or dies', async () => {
    const { agent: watcherAgent, apiKey: watcherKey } = await admin.createAgent({ handle: 'watcher' });
    const watcher = new SesameClient({ apiUrl: cluster.apiUrl, wsUrl: cluster.wsUrls[1], apiKey: watcherKey });
    clients.push(watcher);
    const statuses: string[] = [];
    const { agent, apiKey } = await admin.createAgent({ handle: 'roamer' });
    watcher.on('presence', (event) => { if (event.principalId === agent.id) statuses.push(event.status); });
    // They share no channel: the watcher subscribes to the roamer's presence (before connecting: sent on connect).
    watcher.subscribePresence([agent.id]);
    await watcher.connect();
    expect(watcherAgent.id).toBeTruthy();
    const waitFor = async (status: string, count: number) => {
      const deadline = Date.now() + 20_000;
      while (statuses.filter((s) => s === status).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(statuses.filter((s) => s === status).length).toBe(count);
    };
    const onA = new SesameClient({ apiUrl: cluster.apiUrl, wsUrl: cluster.wsUrls[0], apiKey, autoReconnect: false });
    const onB = new SesameClient({ apiUrl: cluster.apiUrl, wsUrl: cluster.wsUrls[1], apiKey, autoReconnect: false });
    await onA.connect();
    await onB.connect();
    await waitFor('online', 1);
    expect((await admin.getPresence([agent.id])).presence).toEqual([{ principalId: agent.id, status: 'online' }]);
    await onA.disconnect();
    // Still connected on B: no offline. Prove the watcher is up to date with a change of B's status.
    onB.setPresence('away');
    await waitFor('away', 1);
    expect(statuses).toEqual(['online', 'away']);
    await onB.disconnect();
    await waitFor('offline', 1);
    expect((await admin.getPresence([agent.id])).presence).toEqual([{ principalId: agent.id, status: 'offline' }]);

    // Only on node A, which then dies without a word: offline within the TTL (2 s here) + a sweep.
    const again = new SesameClient({ apiUrl: cluster.apiUrl, wsUrl: cluster.wsUrls[0], apiKey, autoReconnect: false });
    await again.connect();
    await waitFor('online', 2);
    await cluster.kill(cluster.gateways[0]);
    await waitFor('offline', 2);
    expect(statuses).toEqual(['online', 'away', 'offline', 'online', 'offline']);
    await cluster.restart(cluster.gateways[0]);
  }, 120_000);
});
