import { SesameClient, type Message } from '@sesamespace/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, TestRedisCluster, redisClusterNodes, shardChannels } from './support/cluster.js';
import { hasServices, requireServices } from './support/targets.js';

/**
 * Scale-out on a Redis Cluster of the test's own (3 masters + 3 replicas, so a master can be
 * killed): two api, three gateway and two worker processes on one Postgres. Needs redis-server
 * ≥ 7 and real Postgres; in CI their absence fails the file.
 */
const enabled = hasServices() || Boolean(process.env.CI);

const until = async (check: () => boolean, what: string, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.runIf(enabled)('many replicas on a Redis Cluster with replicas', () => {
  let redis: TestRedisCluster;
  let cluster: TestCluster;
  let admin: SesameClient;
  const clients: SesameClient[] = [];

  beforeAll(async () => {
    requireServices();
    redis = TestRedisCluster.start(3, 1);
    cluster = await TestCluster.start({ apis: 2, gateways: 3, workers: 2, redisClusterNodes: redis.nodes });
    admin = new SesameClient({ apiUrl: cluster.apiUrl, apiKey: cluster.adminKey, maxRetries: 8 });
  }, 180_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await cluster?.stop();
    redis?.stop();
  });

  /** An agent whose client lives on gateway `home` (failing over to the others) and talks to api `home % 2`. */
  async function agent(handle: string, home: number) {
    const { agent: principal, apiKey } = await admin.createAgent({ handle });
    const wsUrl = [...cluster.wsUrls.slice(home), ...cluster.wsUrls.slice(0, home)];
    const client = new SesameClient({
      apiUrl: cluster.apiUrls[home % 2], wsUrl, apiKey, maxRetries: 20, reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 1_000, maxReconnectAttempts: 100,
    });
    clients.push(client);
    const seen = new Map<string, string[]>();
    client.on('message', (event) => {
      const message = (event.message ?? event.data);
      seen.set(message.channelId, [...(seen.get(message.channelId) ?? []), message.id]);
    });
    return { principal, client, seen };
  }

  const inSeqOrder = (stored: Iterable<Message>) => [...stored].sort((a, b) => a.seq - b.seq).map((m) => m.id);

  it('clients spread over three gateways get everything posted through either api, and see each other\'s presence across gateways', async () => {
    const agents = await Promise.all([0, 1, 2].map((home) => agent(`many-${home}`, home)));
    const presence: Array<{ principalId: string; status: string }> = [];
    agents[0].client.on('presence', (event) => { presence.push({ principalId: event.principalId, status: event.status }); });
    await Promise.all(agents.map((a) => a.client.connect()));
    const { channel } = await agents[0].client.createChannel({ kind: 'group', name: 'many', memberIds: agents.slice(1).map((a) => a.principal.id) });
    const stored: Message[] = [];
    for (let i = 0; i < 30; i++) stored.push(await agents[i % 2].client.sendMessage(channel.id, { content: `m${i}`, kind: 'text' }));
    const expected = inSeqOrder(stored);
    for (const a of agents) await until(() => (a.seen.get(channel.id)?.length ?? 0) >= expected.length, `${a.principal.handle} messages`);
    await new Promise((r) => setTimeout(r, 300));
    for (const a of agents) expect(a.seen.get(channel.id)).toEqual(expected);

    // Presence crosses gateways: the agent on gateway 2 goes and comes back, seen from gateway 0
    // (frames) and through the other api (REST snapshot, from the cluster's presence keys).
    const far = agents[2];
    await until(() => presence.some((p) => p.principalId === far.principal.id && p.status === 'online'), 'far agent online', 10_000).catch(() => {});
    expect((await agents[1].client.getPresence([far.principal.id])).presence).toEqual([{ principalId: far.principal.id, status: 'online' }]);
    await far.client.disconnect();
    await until(() => presence.some((p) => p.principalId === far.principal.id && p.status === 'offline'), 'far agent offline');
    expect((await agents[1].client.getPresence([far.principal.id])).presence).toEqual([{ principalId: far.principal.id, status: 'offline' }]);
    await far.client.connect();
    await until(() => presence.filter((p) => p.principalId === far.principal.id).at(-1)?.status === 'online', 'far agent back online');
  }, 120_000);

  it('failover: kill the master owning a stream\'s slot mid-stream; every client sees every event once, in order', async () => {
    const receivers = await Promise.all([0, 1, 2, 0, 1, 2].map((home, i) => agent(`failover-r${i}`, home)));
    await Promise.all(receivers.map((r) => r.client.connect()));
    const senders = await Promise.all([0, 1].map((home) => agent(`failover-s${home}`, home)));
    const { channel } = await senders[0].client.createChannel({
      kind: 'group', name: 'failover', memberIds: [...receivers.map((r) => r.principal.id), senders[1].principal.id],
    });
    const topic = `sesame:${channel.id}`;
    const masters = () => redisClusterNodes(redis.nodes).filter((n) => n.role === 'master' && !n.failed);
    await until(() => masters().some((m) => shardChannels(m.port, topic).length > 0), 'the gateways\' SSUBSCRIBE');
    const owner = masters().find((m) => shardChannels(m.port, topic).length > 0)!;

    const stored = new Map<string, Message>();
    const perSender = 300;
    let sent = 0;
    let killed: Promise<void> | undefined;
    await Promise.all(senders.map(async (s, si) => {
      let next = 0;
      await Promise.all(Array.from({ length: 3 }, async () => {
        while (next < perSender) {
          const i = next++;
          for (;;) {
            try {
              const message = await s.client.sendMessage(channel.id, { content: `s${si}-${i}`, kind: 'text', clientGeneratedId: `s${si}-${i}` });
              stored.set(message.id, message);
              break;
            } catch {
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          if (++sent === Math.floor((perSender * senders.length) / 3)) killed = (async () => { redis.kill(owner.port); })();
        }
      }));
    }));
    await killed;
    expect(stored.size).toBe(perSender * senders.length);
    // The replica took over the slot and the gateways re-subscribed there.
    await until(() => masters().some((m) => m.port !== owner.port && shardChannels(m.port, topic).length > 0), 're-subscription on the promoted replica');
    const expected = inSeqOrder(stored.values());
    for (const r of receivers) await until(() => (r.seen.get(channel.id)?.length ?? 0) >= expected.length, `${r.principal.handle} messages`, 60_000);
    await new Promise((r) => setTimeout(r, 300));
    for (const r of receivers) expect(r.seen.get(channel.id)).toEqual(expected);
    // After the failover, the live path works again: a fresh message arrives everywhere.
    const after = await senders[1].client.sendMessage(channel.id, { content: 'after', kind: 'text' });
    for (const r of receivers) await until(() => r.seen.get(channel.id)?.at(-1) === after.id, 'the message sent after the failover');
  }, 180_000);
});
