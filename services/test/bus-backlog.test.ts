import { SesameClient, type Message } from '@sesamespace/sdk';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterBus, RedisBus, type BusMessage } from '../src/shared/bus/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { metrics } from '../src/shared/metrics.js';
import { redisTarget, type RedisTarget } from '../src/shared/redis-client.js';
import { startTestApi, type TestApi } from './support/api.js';
import { TestRedisCluster, redisClusterNodes } from './support/cluster.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { hasServices, requireServices } from './support/targets.js';

/**
 * A Redis the test can cut: a TCP proxy to the test Redis on a port of its own. `down()` stops
 * listening and drops every connection (a dead port: connections are refused); `up()` listens on
 * the same port again.
 */
class RedisCut {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly upstream: URL) {}

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = tcpConnect(Number(this.upstream.port), this.upstream.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => { this.sockets.delete(socket); });
        socket.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => { if (server) server.close(() => { resolve(); }); else resolve(); });
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const counter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
const statusOf = (bus: RedisBus) => (bus as unknown as { publisher: { status: string } }).publisher.status;

const enabled = hasServices() || Boolean(process.env.CI);

describe.runIf(enabled)('the bus while Redis is down', () => {
  const logger = createLogger('silent', 'test');
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
  let cut: RedisCut;

  beforeAll(() => { process.on('unhandledRejection', onUnhandled); });
  afterAll(() => { process.off('unhandledRejection', onUnhandled); });

  it('holds at most SESAME_BUS_BACKLOG_LIMIT publishes, dropping the oldest, and sends the rest in order once Redis is back', async () => {
    cut = new RedisCut(new URL(requireServices().redisUrl));
    await cut.up();
    const bus = new RedisBus(cut.url, logger, { limit: 50 });
    const receiver = new RedisBus(requireServices().redisUrl, logger);
    const topic = `backlog-${Date.now()}`;
    const heard: number[] = [];
    receiver.subscribe(topic, (message: BusMessage) => { if (message.kind === 'ephemeral') heard.push(message.frame.n as number); });
    await Promise.all([bus.ready(), receiver.ready()]);
    try {
      await bus.publish(topic, { kind: 'ephemeral', frame: { type: 'test', n: -1 } });
      await until(() => heard.includes(-1), 'the first publish');

      await cut.down();
      await until(() => statusOf(bus) !== 'ready', 'the bus to notice the outage');
      const droppedBefore = await counter(metrics.busPublishesDropped);
      // Every publish settles at once (none waits for Redis), and none is kept beyond the limit.
      await Promise.all(Array.from({ length: 2_000 }, (_, n) => bus.publish(topic, { kind: 'ephemeral', frame: { type: 'test', n } })));
      expect(bus.backlog.size).toBe(50);
      expect(await counter(metrics.busPublishesDropped) - droppedBefore).toBe(1_950);

      await cut.up();
      await until(() => heard.includes(1_999), 'the held publishes');
      await bus.publish(topic, { kind: 'ephemeral', frame: { type: 'test', n: 2_000 } });
      await until(() => heard.includes(2_000), 'a publish after the outage');
      expect(heard).toEqual([-1, ...Array.from({ length: 51 }, (_, i) => 1_950 + i)]);
      expect(bus.backlog.size).toBe(0);
      expect(unhandled).toEqual([]);
    } finally {
      await bus.close();
      await receiver.close();
      await cut.down();
    }
  });

  describe('end to end', () => {
    let api: TestApi;
    let gateway: TestGateway;
    const clients: SesameClient[] = [];

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.disconnect()));
      // Redis is up again by then: a gateway's presence store says goodbye to it on close.
      await gateway?.close();
      await api?.close();
      await cut.down();
    });

    it('a client with a cursor gets the events whose publishes were dropped from Postgres, and live ones after', async () => {
      cut = new RedisCut(new URL(requireServices().redisUrl));
      await cut.up();
      // Head polls are rare here: what the client misses comes from the bus reconnect and its cursor.
      api = await startTestApi('postgres', { REDIS_URL: cut.url, SESAME_BUS_BACKLOG_LIMIT: '5', SESAME_HEAD_POLL_INTERVAL_MS: '60000' });
      gateway = await startTestGateway(api.ctx);
      const apiUrl = await api.app.listen({ port: 0, host: '127.0.0.1' });
      const alice = await api.createAgent('alice');
      const bob = await api.createAgent('bob');
      const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'outage', memberIds: [bob.id] })).json().data as { id: string };
      const client = new SesameClient({ apiUrl, wsUrl: gateway.url, apiKey: bob.apiKey, reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 500, maxReconnectAttempts: 100 });
      clients.push(client);
      const got: string[] = [];
      client.on('message', (event) => { got.push((event.message ?? event.data).id); });
      await client.connect();
      const send = async (content: string) => {
        const res = await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/messages`, { content, kind: 'text' });
        expect(res.statusCode).toBe(201);
        return (res.json().data as Message).id;
      };
      const sent = [await send('before')];
      await until(() => got.length === 1, 'the first message');

      await cut.down();
      const bus = api.ctx.bus;
      if (!(bus instanceof RedisBus)) throw new Error('the postgres target runs on a RedisBus');
      await until(() => statusOf(bus) !== 'ready', 'the api to notice the outage');
      const droppedBefore = await counter(metrics.busPublishesDropped);
      for (let i = 0; i < 30; i++) sent.push(await send(`during ${i}`));
      expect(bus.backlog.size).toBeLessThanOrEqual(5);
      expect(await counter(metrics.busPublishesDropped) - droppedBefore).toBeGreaterThanOrEqual(25);

      await cut.up();
      sent.push(await send('after'));
      await until(() => got.length >= sent.length, 'every message', 30_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toEqual(sent);
      expect(unhandled).toEqual([]);
    }, 60_000);
  });
});

/**
 * One master of a Redis Cluster (no replicas) killed: the cluster client stays `ready` (the
 * other masters answer), so nothing is held in the backlog, and the publishes for the dead
 * master's slots wait inside ioredis. Those unanswered publishes are bounded too.
 */
describe.runIf(Boolean(process.env.TEST_REDIS_CLUSTER_NODES) || Boolean(process.env.CI))('the cluster bus while one master is down', () => {
  const logger = createLogger('silent', 'test');
  let cluster: TestRedisCluster | undefined;
  afterAll(() => { cluster?.stop(); });

  it('keeps at most SESAME_BUS_BACKLOG_LIMIT publishes unanswered, dropping and counting new ones past it', async () => {
    cluster = TestRedisCluster.start(3, 0);
    const target = redisTarget(loadConfig({ REDIS_CLUSTER_NODES: cluster.nodes })) as Extract<RedisTarget, { mode: 'cluster' }>;
    const bus = new ClusterBus(target, logger, { limit: 20 });
    const receiver = new ClusterBus(target, logger);
    try {
      const topics = Array.from({ length: 60 }, (_, i) => `down-${String(Date.now())}-${String(i)}`);
      const heard = new Set<string>();
      for (const topic of topics) receiver.subscribe(topic, () => { heard.add(topic); });
      await Promise.all([bus.ready(), receiver.ready()]);
      for (const topic of topics) await bus.publish(topic, { kind: 'ephemeral', frame: { type: 'test' } });
      await until(() => heard.size === topics.length, 'every topic before the kill');

      const master = redisClusterNodes(cluster.nodes).find((n) => n.role === 'master');
      cluster.kill(master!.port);
      await new Promise((r) => setTimeout(r, 300));
      heard.clear();
      const droppedBefore = await counter(metrics.busPublishesDropped);
      // Fire and forget, as events are published after commit.
      for (let round = 0; round < 20; round++) {
        for (const topic of topics) bus.publish(topic, { kind: 'ephemeral', frame: { type: 'test' } }).catch(() => {});
      }
      expect(bus.unanswered).toBeLessThanOrEqual(20);
      expect(await counter(metrics.busPublishesDropped) - droppedBefore).toBeGreaterThan(0);
      // What was sent to the live masters is answered; what waits for the dead one stays within the bound.
      await until(() => bus.unanswered < 20, 'the live masters to answer');
      expect(bus.unanswered).toBeGreaterThan(0);
    } finally {
      await bus.close();
      await receiver.close();
    }
  }, 60_000);
});
