import { SesameClient, type Message } from '@sesamespace/sdk';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterBus, type BusMessage } from '../src/shared/bus/index.js';
import { loadConfig } from '../src/shared/config.js';
import { RedisPresenceStore } from '../src/gateway/presence.js';
import { MemoryBus } from '../src/shared/bus/index.js';
import { createLogger } from '../src/shared/logger.js';
import { redisTarget } from '../src/shared/redis-client.js';
import { startTestApi } from './support/api.js';
import { configIssues } from './support/config.js';
import { TestCluster, redisClusterNodes, shardChannels } from './support/cluster.js';
import { hasServices, requireServices } from './support/targets.js';

/**
 * Cluster mode (`REDIS_CLUSTER_NODES`) on a real 3-master Redis Cluster: .ci/run and the
 * global setup start one with scripts/dev/redis-cluster.sh. In CI its absence fails these tests.
 */
const clusterNodes = process.env.TEST_REDIS_CLUSTER_NODES;
const enabled = Boolean(clusterNodes) || Boolean(process.env.CI);

function requireRedisCluster(): string {
  if (!clusterNodes) throw new Error('TEST_REDIS_CLUSTER_NODES must be set (scripts/dev/redis-cluster.sh start) — these tests need a real Redis Cluster');
  return clusterNodes;
}

const until = async (check: () => boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
};

const masterPorts = (nodes: string) => redisClusterNodes(nodes).filter((n) => n.role === 'master' && !n.failed).map((n) => n.port);

describe('REDIS_CLUSTER_NODES', () => {
  it('takes host:port seeds (IPv6 in brackets) and makes every process use the cluster', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: 'redis-0:6379, 10.0.0.2:7000,[::1]:7001' });
    expect(redisTarget(config)).toEqual({
      mode: 'cluster', nodes: [{ host: 'redis-0', port: 6379 }, { host: '10.0.0.2', port: 7000 }, { host: '::1', port: 7001 }],
    });
    expect(redisTarget(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379' });
    expect(redisTarget(loadConfig({}))).toBeUndefined();
  });

  it('names the bad entry of a node list', () => {
    for (const bad of ['redis-0', 'redis://redis-1:6379', 'redis-2:70000', 'redis-3:', '']) {
      const found = configIssues({ REDIS_CLUSTER_NODES: `redis-ok:6379,${bad}` });
      expect(found).toHaveLength(1);
      expect(found[0].variable).toBe('REDIS_CLUSTER_NODES');
      expect(found[0].message).toContain(JSON.stringify(bad));
    }
  });

  it('is exclusive with REDIS_URL', () => {
    const found = configIssues({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    expect(found).toEqual([{ variable: 'REDIS_CLUSTER_NODES', message: expect.stringContaining('not both') as string }]);
  });
});

describe.runIf(enabled)('cluster mode on a 3-master Redis Cluster', () => {
  const logger = createLogger('silent', 'test');

  it('the bus: stream topics on sharded pub/sub spread over the masters, each event once and in order; control topics on classic pub/sub', async () => {
    const nodes = requireRedisCluster();
    const target = redisTarget({ REDIS_CLUSTER_NODES: nodes })! as Extract<ReturnType<typeof redisTarget>, { mode: 'cluster' }>;
    const run = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const topics = Array.from({ length: 20 }, (_, i) => `bus-${run}-${i}`);
    const control = `control:test-${run}`;
    const publisher = new ClusterBus(target, logger);
    const subscribers = [new ClusterBus(target, logger), new ClusterBus(target, logger)];
    const received = subscribers.map(() => new Map<string, number[]>());
    try {
      subscribers.forEach((bus, s) => {
        for (const topic of [...topics, control]) {
          bus.subscribe(topic, (message) => {
            if (message.kind !== 'ephemeral') return;
            const list = received[s].get(topic) ?? [];
            list.push(message.frame.n as number);
            received[s].set(topic, list);
          });
        }
      });
      await Promise.all(subscribers.map((bus) => bus.ready()));
      const perTopic = 10;
      await Promise.all([...topics, control].map(async (topic) => {
        for (let n = 0; n < perTopic; n++) await publisher.publish(topic, { kind: 'ephemeral', frame: { type: 'probe', n } } satisfies BusMessage);
      }));
      await until(() => received.every((r) => [...topics, control].every((t) => (r.get(t)?.length ?? 0) >= perTopic)));
      await new Promise((r) => setTimeout(r, 200)); // room for a duplicate to show
      for (const r of received) for (const topic of [...topics, control]) expect(r.get(topic), topic).toEqual(Array.from({ length: perTopic }, (_, n) => n));

      // Each stream topic is a shard channel on exactly one master; together the masters carry all.
      const byMaster = new Map(masterPorts(nodes).map((port) => [port, shardChannels(port, `sesame:bus-${run}-*`)]));
      expect(byMaster.size).toBe(3);
      const all = [...byMaster.values()].flat();
      expect(all.sort()).toEqual(topics.map((t) => `sesame:${t}`).sort());
      expect([...byMaster.values()].filter((channels) => channels.length > 0).length).toBeGreaterThanOrEqual(2);
      for (const port of byMaster.keys()) expect(shardChannels(port, `sesame:${control}`)).toEqual([]);
    } finally {
      await Promise.all([publisher, ...subscribers].map((bus) => bus.close()));
    }
  }, 60_000);

  it('rate-limit counters live in the cluster', async () => {
    const nodes = requireRedisCluster();
    const api = await startTestApi('pglite', { REDIS_CLUSTER_NODES: nodes, SESAME_RATE_LIMIT_PER_MINUTE: '3', SESAME_READ_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await api.call(api.adminKey, 'GET', '/auth/me')).statusCode);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const keys = masterPorts(nodes).flatMap((port) => execFileSync('redis-cli', ['-p', String(port), '--scan', '--pattern', 'sesame-rl:*'], { encoding: 'utf8' }).split('\n').filter(Boolean));
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      await api.app.close();
      await api.ctx.close();
    }
  }, 120_000); // an app on PGlite: slow to start on a busy machine

  it('presence: two gateway nodes agree through the cluster (the script and MGET stay in one slot)', async () => {
    const nodes = requireRedisCluster();
    const target = redisTarget({ REDIS_CLUSTER_NODES: nodes })!;
    const bus = new MemoryBus();
    const a = new RedisPresenceStore(target, 5_000, bus, logger);
    const b = new RedisPresenceStore(target, 5_000, bus, logger);
    const principal = { id: `p-${Date.now()}-${Math.random()}`, workspaceId: 'w' };
    const other = { id: `q-${Date.now()}-${Math.random()}`, workspaceId: 'w' };
    try {
      expect(await a.setNodeStatus(principal, 'online')).toBe('online');
      expect(await b.setNodeStatus(principal, 'away')).toBeNull();
      expect(await b.setNodeStatus(other, 'away')).toBe('away');
      expect(await b.statuses([principal.id, other.id])).toEqual({ [principal.id]: 'online', [other.id]: 'away' });
      expect(await a.setNodeStatus(principal, 'offline')).toBe('away');
      expect(await b.setNodeStatus(principal, 'offline')).toBe('offline');
      expect(await a.statuses([principal.id, other.id])).toEqual({ [principal.id]: 'offline', [other.id]: 'away' });
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});

describe.runIf(enabled && (hasServices() || Boolean(process.env.CI)))('two api and two gateway processes on a Redis Cluster', () => {
  let cluster: TestCluster;
  let admin: SesameClient;
  const clients: SesameClient[] = [];

  beforeAll(async () => {
    requireServices();
    cluster = await TestCluster.start({ apis: 2, gateways: 2, redisClusterNodes: requireRedisCluster() });
    admin = new SesameClient({ apiUrl: cluster.apiUrl, apiKey: cluster.adminKey, maxRetries: 8 });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await cluster?.stop();
  });

  it('SDK clients on different gateways receive every one of 200 messages posted through either api across 20 channels, once and in order', async () => {
    const receivers = await Promise.all([0, 1].map(async (home) => {
      const { agent, apiKey } = await admin.createAgent({ handle: `cluster-r${home}` });
      const client = new SesameClient({ apiUrl: cluster.apiUrls[home], wsUrl: cluster.wsUrls[home], apiKey });
      clients.push(client);
      const seen = new Map<string, string[]>();
      client.on('message', (event) => {
        const message = (event.message ?? event.data);
        const list = seen.get(message.channelId) ?? [];
        list.push(message.id);
        seen.set(message.channelId, list);
      });
      await client.connect();
      return { agent, seen };
    }));
    const senders = await Promise.all([0, 1].map(async (i) => {
      const { agent, apiKey } = await admin.createAgent({ handle: `cluster-s${i}` });
      return { agent, client: new SesameClient({ apiUrl: cluster.apiUrls[i], apiKey, maxRetries: 8 }) };
    }));
    const channels = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await senders[0].client.createChannel({
      kind: 'group', name: `cluster-${i}`, memberIds: [...receivers.map((r) => r.agent.id), senders[1].agent.id],
    })).channel.id));
    const stored = new Map<string, Message[]>();
    // 10 per channel, alternating apis; channels in parallel, each channel's sends in sequence.
    await Promise.all(channels.map(async (channelId) => {
      for (let i = 0; i < 10; i++) {
        const message = await senders[i % 2].client.sendMessage(channelId, { content: `m${i}`, kind: 'text' });
        stored.set(channelId, [...(stored.get(channelId) ?? []), message]);
      }
    }));
    const total = () => receivers.map((r) => [...r.seen.values()].reduce((n, l) => n + l.length, 0));
    await until(() => total().every((n) => n >= 200), 30_000);
    await new Promise((r) => setTimeout(r, 300));
    for (const r of receivers) {
      for (const channelId of channels) {
        const expected = [...stored.get(channelId)!].sort((a, b) => a.seq - b.seq).map((m) => m.id);
        expect(r.seen.get(channelId), channelId).toEqual(expected);
      }
    }
    // The gateways' subscriptions: each channel's topic on one master, spread over the masters.
    const byMaster = masterPorts(cluster.env.REDIS_CLUSTER_NODES).map((port) => shardChannels(port).filter((c) => channels.some((id) => c === `sesame:${id}`)));
    expect(byMaster.flat().sort()).toEqual(channels.map((id) => `sesame:${id}`).sort());
    expect(byMaster.filter((c) => c.length > 0).length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
