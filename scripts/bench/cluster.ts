/**
 * Fan-out through a Redis Cluster vs one Redis: the same Sesame deployment twice in one run —
 * one api and two gateway processes on one Redis (`REDIS_URL`), and the same on a 3-master Redis
 * Cluster (`REDIS_CLUSTER_NODES`, sharded pub/sub) — each with 1,000 subscribers spread over its
 * two gateways (500 each) in one channel, measured in interleaved rounds like realtime-fanout.
 *
 *   npx tsx scripts/bench/cluster.ts          (or: npm run bench -- cluster)
 *
 * Both deployments share one PostgreSQL (and its admin); each has its own agents and channel.
 * One channel is one topic, which lives on one shard: this measures what the cluster path costs
 * per message, not the capacity gained by spreading many topics (docs/scaling.md extrapolates that).
 */
import { FanoutDriver } from './support/fanout-driver.js';
import { runBench, sleep } from './support/lifecycle.js';
import { startSesame, type SentMessage } from './support/sesame.js';
import { CpuMeter, Histogram, int, median, ms, processTree } from './support/stats.js';
import { startRedisCluster, startTestServices, type RedisCluster, type TestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const SUBSCRIBERS = 1000;
const GATEWAYS = 2;
const CONTENT_BYTES = 100;
const WARMUP_MESSAGES = 100;
const ROUNDS = 3;
const RATE_PER_SECOND = 20;
const RATE_SECONDS = 5;
const LOOP_WINDOW = 8;
const LOOP_SECONDS = 5;
const COMMAND = 'npm run bench -- cluster';

interface Deployment {
  key: string;
  name: string;
  driver: FanoutDriver;
  servers: Record<string, () => number[]>;
  verify: () => Promise<string>;
}

async function deploy(key: string, name: string, services: TestServices, redis: { env: Record<string, string>; pids: number[] }, adminKey?: string): Promise<Deployment & { adminKey: string }> {
  const sesame = await startSesame(services, { gateways: GATEWAYS, env: redis.env, label: key, ...(adminKey ? { adminKey } : {}) });
  console.log(`[${key}] creating ${int(SUBSCRIBERS)} agents and a group channel of them…`);
  const agents = await sesame.rest.createAgents(key, SUBSCRIBERS);
  const channel = await sesame.rest.createGroup(key, agents.map((a) => a.id));
  const driver = new FanoutDriver(key, { send: (content) => sesame.rest.sendMessage(channel.id, content), close: () => {} }, SUBSCRIBERS, GATEWAYS, CONTENT_BYTES);
  // One subscriber process per gateway: every message crosses Redis to reach both.
  await driver.connect({ kind: 'sesame', url: sesame.gatewayUrls, keys: agents.map((a) => a.apiKey) });
  return {
    key, name, driver, adminKey: sesame.adminKey,
    servers: {
      api: () => [sesame.api.pid], gateways: () => sesame.gateways.map((g) => g.pid), postgres: () => processTree(services.postgresPid), redis: () => redis.pids,
    },
    verify: async () => {
      const seqs = (await Promise.all(driver.sent)).filter((m): m is SentMessage => Boolean(m)).map((m) => m.seq).sort((a, b) => a - b);
      const tracks = (await driver.report()).flatMap((r) => r.tracks);
      const exact = tracks.filter((t) => t.first === seqs[0] && t.last === seqs.at(-1) && t.received === seqs.length && t.duplicates === 0 && t.gaps === 0).length;
      return `${int(seqs.length)} messages persisted; **${exact} of ${tracks.length} subscribers received every one exactly once, in seq order**`;
    },
  };
}

const pct = (c: number) => `${(c * 100).toFixed(0)}%`;
const cores = (usage: Record<string, number>, labels: string[]) => labels.reduce((sum, label) => sum + (usage[label] ?? 0), 0);

void runBench(async () => {
  const services = startTestServices();
  const cluster: RedisCluster = startRedisCluster(3);
  const single = await deploy('single', 'one Redis (`REDIS_URL`, classic pub/sub)', services, { env: {}, pids: [services.redisPid] });
  const sharded = await deploy('cluster', '3-master Redis Cluster (`REDIS_CLUSTER_NODES`, sharded pub/sub)', services, { env: { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.nodes }, pids: cluster.pids }, single.adminKey);
  const deployments: Deployment[] = [single, sharded];
  await sleep(3000); // connection-time work (auth bookkeeping, presence) settles
  for (const d of deployments) await d.driver.closedLoop('warm', 4, { count: WARMUP_MESSAGES });

  const ranges = new Map<string, Array<{ rate: { first: number; sent: number }; loop: { first: number; sent: number }; cpu: Record<string, number> }>>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (let k = 0; k < deployments.length; k++) {
      const d = deployments[(k + round - 1) % deployments.length];
      const rate = await d.driver.fixedRate(`rate${round}`, RATE_PER_SECOND, RATE_SECONDS);
      await sleep(300);
      const meter = new CpuMeter({ ...d.servers, subscribers: () => d.driver.subscriberPids, sender: () => [process.pid] });
      meter.start();
      const loop = await d.driver.closedLoop(`loop${round}`, LOOP_WINDOW, { seconds: LOOP_SECONDS });
      const cpu = meter.stop();
      ranges.set(d.key, [...(ranges.get(d.key) ?? []), { rate, loop, cpu }]);
      console.log(`[${d.key}] round ${round}: closed loop ${loop.sent} messages; CPU ${Object.entries(cpu).map(([l, c]) => `${l} ${pct(c)}`).join(', ')}`);
      await sleep(300);
    }
  }

  const rows: string[] = [];
  const notes: string[] = [];
  for (const d of deployments) {
    await Promise.all(d.driver.sent);
    if (d.driver.sendErrors) throw new Error(`${d.name}: ${d.driver.sendErrors} sends failed; first: ${String(d.driver.firstSendError)}`);
    const reports = await d.driver.report();
    const rounds = ranges.get(d.key)!.map((r, i) => ({
      rate: d.driver.phaseResult(reports, `rate${i + 1}`, r.rate),
      loop: d.driver.phaseResult(reports, `loop${i + 1}`, r.loop),
      cpu: r.cpu,
    }));
    const rateHist = rounds.reduce((h, r) => h.merge(r.rate.hist.toJSON()), new Histogram());
    const loopHist = rounds.reduce((h, r) => h.merge(r.loop.hist.toJSON()), new Histogram());
    const loopRates = rounds.map((r) => r.loop.deliveriesPerSecond);
    const labels = Object.keys(d.servers);
    const serverCores = median(rounds.map((r) => cores(r.cpu, labels)));
    const perCpuSecond = median(rounds.map((r) => r.loop.deliveriesPerSecond / cores(r.cpu, labels)));
    // Redis CPU per 1,000 messages/s published (each message reaches 2 gateways).
    const messagesPerSecond = median(rounds.map((r) => r.loop.sent / r.loop.seconds));
    const redisPer1k = median(rounds.map((r) => (Object.hasOwn(r.cpu, 'redis') ? r.cpu.redis : 0) / ((r.loop.sent / r.loop.seconds) / 1000)));
    const cpuDetail = labels.map((label) => `${label} ${pct(median(rounds.map((r) => r.cpu[label] ?? 0)))}`).join(' + ');
    rows.push(`| ${d.name} | ${int(median(rounds.map((r) => r.rate.deliveriesPerSecond)))} | ${ms(rateHist.percentile(50))} | ${ms(rateHist.percentile(99))} | ` +
      `**${int(median(loopRates))}** (${int(Math.min(...loopRates))}–${int(Math.max(...loopRates))}) | ${ms(loopHist.percentile(50))} | ${ms(loopHist.percentile(99))} | ` +
      `${pct(serverCores)} (${cpuDetail}) | ${int(perCpuSecond)} | ${int(messagesPerSecond)} | ${pct(redisPer1k)} |`);
    notes.push(`- **${d.name}**: ${int(SUBSCRIBERS)} subscribers connected over ${GATEWAYS} gateways in ${d.driver.connectSeconds.toFixed(1)} s. ${await d.verify()}.`);
    console.log(rows.at(-1));
  }
  for (const d of deployments) await d.driver.close();
  const others = [...ranges.values()].flat().map((r) => (Object.hasOwn(r.cpu, 'others') ? r.cpu.others : 0));

  writeSection('cluster', [
    '## Fan-out through a Redis Cluster vs one Redis (1,000 subscribers over two gateways)',
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback: PostgreSQL and Redis from \`scripts/dev/test-services.sh\`, the cluster (3 masters, no replicas) from \`scripts/dev/redis-cluster.sh\`.`,
    '',
    `Two deployments in the same run, each one api and ${GATEWAYS} gateway processes on the same PostgreSQL, one on a single Redis and one on the cluster; each has ${int(SUBSCRIBERS)} agents in one group channel, connected by ${GATEWAYS} subscriber processes (one per gateway, ${SUBSCRIBERS / GATEWAYS} connections each), so every message crosses Redis to both gateways. Same harness and phases as the realtime fan-out section (fixed rate ${RATE_PER_SECOND} messages/s for ${RATE_SECONDS} s; closed loop of ${LOOP_WINDOW} in flight for ${LOOP_SECONDS} s; ${ROUNDS} interleaved rounds, order rotated). Redis CPU counts every redis-server of the deployment (3 for the cluster); *Redis per 1k msg/s* = Redis CPU ÷ (published messages/s ÷ 1,000) in the closed loop.`,
    '',
    'One channel is one topic, and a topic lives on one shard: this compares the per-message cost of the cluster path, not the capacity added by spreading many topics over shards.',
    '',
    '| Redis | fixed rate: deliveries/s | p50 | p99 | closed loop: deliveries/s | p50 | p99 | server CPU | deliveries per server CPU-second | messages/s (closed loop) | Redis CPU per 1k msg/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...notes,
    '',
    `Noise: processes outside the bench used a median ${pct(median(others))} of a core (range ${pct(Math.min(...others))}–${pct(Math.max(...others))}) during the closed loops of this run; with the machine that busy, compare the two rows with each other only. The Redis-per-1k column is coarse at low message rates (CPU is sampled in whole percents).`,
  ].join('\n'));
  console.log('\nwritten to docs/benchmarks.md');
});
