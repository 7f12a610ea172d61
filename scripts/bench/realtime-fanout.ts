/**
 * Realtime fan-out: one sender, 1,000 subscribers in one channel/room, the same harness against
 * Sesame (api + gateway processes on PostgreSQL + Redis, every message persisted), Socket.IO 4
 * with the Redis adapter (one node, and two nodes so messages cross Redis), and a bare `ws`
 * broadcast server (the ceiling).
 *
 *   npx tsx scripts/bench/realtime-fanout.ts             (or: npm run bench -- realtime-fanout)
 *   npx tsx scripts/bench/realtime-fanout.ts sesame ws   (only those systems; writes nothing)
 *
 * All systems are set up first, then measured in interleaved rounds (rotating the order), so a
 * noisy neighbour on a shared machine hits them alike. Subscribers run in separate processes
 * from the servers; the sender runs in this process. Latency = receive time − send time on the
 * machine's monotonic clock (the same clock in every process).
 */
import { connectSocketIo, connectWs } from './support/clients.js';
import { FanoutDriver, type PhaseResult, type SubscriberReport } from './support/fanout-driver.js';
import { runBench, sleep } from './support/lifecycle.js';
import { startSocketIoServer, startWsServer } from './support/peers.js';
import { startSesame, type SentMessage } from './support/sesame.js';
import { CpuMeter, Histogram, int, median, ms, processTree } from './support/stats.js';
import { startTestServices, type TestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const SUBSCRIBERS = 1000;
const SUBSCRIBER_PROCESSES = 2;
const CONTENT_BYTES = 100;
const WARMUP_MESSAGES = 100;
const WARMUP_WINDOW = 4;
const ROUNDS = 3;
const RATE_PER_SECOND = 20;
const RATE_SECONDS = 5;
const LOOP_WINDOW = 8;
const LOOP_SECONDS = 5;
const COMMAND = 'npx tsx scripts/bench/realtime-fanout.ts';

interface System {
  key: string;
  name: string;
  setup: string;
  driver: FanoutDriver;
  /** Server-side process groups, for CPU accounting. */
  servers: Record<string, () => number[]>;
  verify?: (reports: SubscriberReport[]) => Promise<string>;
}

/** A process group's CPU share in a round; groups with no process there are absent. */
const cpuShare = (cpu: Record<string, number>, label: string): number => (Object.hasOwn(cpu, label) ? cpu[label] : 0);

interface Round { rate: PhaseResult; loop: PhaseResult; cpu: Record<string, number> }

async function setupSesame(services: TestServices): Promise<System> {
  const sesame = await startSesame(services);
  console.log('[Sesame] creating 1,000 agents and a group channel of them…');
  const agents = await sesame.rest.createAgents('fanout', SUBSCRIBERS);
  const channel = await sesame.rest.createGroup('fanout', agents.map((a) => a.id));
  const driver = new FanoutDriver('sesame', { send: (content) => sesame.rest.sendMessage(channel.id, content), close: () => {} }, SUBSCRIBERS, SUBSCRIBER_PROCESSES, CONTENT_BYTES);
  await driver.connect({ kind: 'sesame', url: sesame.gatewayUrl, keys: agents.map((a) => a.apiKey) });
  return {
    key: 'sesame',
    name: 'Sesame',
    setup: 'separate api and gateway processes on PostgreSQL + Redis; the sender (the admin) POSTs each message to `/channels/:id/messages` (persisted with its event in one transaction, published on Redis, fanned out by the gateway) and does not wait for the response before the next; subscribers are 1,000 distinct agents, one raw `ws` connection each',
    driver,
    servers: { api: () => [sesame.api.pid], gateway: () => [sesame.gateway.pid], postgres: () => processTree(services.postgresPid), redis: () => [services.redisPid] },
    verify: async (reports) => {
      const seqs = (await Promise.all(driver.sent)).filter((m): m is SentMessage => Boolean(m)).map((m) => m.seq).sort((a, b) => a - b);
      const firstSeq = seqs[0];
      const lastSeq = seqs.at(-1)!;
      const tracks = reports.flatMap((r) => r.tracks);
      const exact = tracks.filter((t) => t.first === firstSeq && t.last === lastSeq && t.received === seqs.length && t.duplicates === 0 && t.gaps === 0).length;
      const sum = (f: (t: (typeof tracks)[number]) => number) => tracks.reduce((n, t) => n + f(t), 0);
      const presence = reports.reduce((n, r) => n + (r.otherFrames.presence ?? 0), 0);
      return `${int(seqs.length)} messages persisted (seq ${firstSeq}–${lastSeq}${lastSeq - firstSeq + 1 === seqs.length ? '' : ', NOT contiguous'}); ` +
        `**${exact} of ${tracks.length} subscribers received every one exactly once, in seq order**` +
        (exact === tracks.length ? '' : ` (duplicates ${sum((t) => t.duplicates)}, out-of-order ${sum((t) => t.gaps)}, missing ${sum((t) => Math.max(0, seqs.length - t.received))})`) +
        `. Presence is workspace-wide: the subscribers received ${int(presence)} presence frames in all, nearly all while the 1,000 agents came online`;
    },
  };
}

async function setupSocketIo(services: TestServices, nodes: 1 | 2): Promise<System> {
  // Each deployment its own adapter key: the two must not hear each other's broadcasts.
  const redisKey = `fanout-${nodes}`;
  const subscriberNode = await startSocketIoServer({ redisUrl: services.redisUrl, redisKey, label: `socket.io${nodes === 2 ? ' node B' : ''}` });
  const senderNode = nodes === 2 ? await startSocketIoServer({ redisUrl: services.redisUrl, redisKey, label: 'socket.io node A' }) : subscriberNode;
  const socket = await connectSocketIo(senderNode.url, { role: 'sender' });
  const driver = new FanoutDriver(`socket.io ${nodes}`, { send: (content) => { socket.emit('send', content); }, close: () => socket.disconnect() }, SUBSCRIBERS, SUBSCRIBER_PROCESSES, CONTENT_BYTES);
  await driver.connect({ kind: 'socketio', url: subscriberNode.url });
  const redis = () => [services.redisPid];
  return nodes === 1 ? {
    key: 'socketio',
    name: 'Socket.IO + Redis adapter',
    setup: 'one Socket.IO 4.8 process with `@socket.io/redis-adapter` on the same Redis, WebSocket transport only; the sender emits `send`, the server broadcasts it to the room of 1,000 subscribers (the adapter also publishes each broadcast to Redis, but local delivery does not wait for it)',
    driver,
    servers: { server: () => [subscriberNode.child.pid], redis },
  } : {
    key: 'socketio2',
    name: 'Socket.IO + Redis adapter, 2 nodes',
    setup: 'as above with two server processes: the sender on node A, the 1,000 subscribers on node B, so every message crosses Redis as Sesame\'s do',
    driver,
    servers: { 'node A': () => [senderNode.child.pid], 'node B': () => [subscriberNode.child.pid], redis },
  };
}

async function setupWs(): Promise<System> {
  const server = await startWsServer();
  const ws = await connectWs(`${server.url}/send`);
  const driver = new FanoutDriver('ws', { send: (content) => { ws.send(content); }, close: () => { ws.terminate(); } }, SUBSCRIBERS, SUBSCRIBER_PROCESSES, CONTENT_BYTES);
  await driver.connect({ kind: 'ws', url: server.url });
  return {
    key: 'ws',
    name: 'bare ws (ceiling)',
    setup: 'one `ws` 8 process sending each of the sender\'s frames as-is to every other socket: no persistence, no Redis, no auth',
    driver,
    servers: { server: () => [server.child.pid] },
  };
}

const cores = (usage: Record<string, number>, labels: string[]) => labels.reduce((sum, label) => sum + (usage[label] ?? 0), 0);
const pct = (c: number) => `${(c * 100).toFixed(0)}%`;

void runBench(async () => {
  const setups: Partial<Record<string, (services: TestServices) => Promise<System>>> = {
    sesame: setupSesame,
    socketio: (services) => setupSocketIo(services, 1),
    socketio2: (services) => setupSocketIo(services, 2),
    ws: () => setupWs(),
  };
  const only = process.argv.slice(2);
  for (const key of only) if (!setups[key]) throw new Error(`unknown system ${key}; known: ${Object.keys(setups).join(', ')}`);
  const services = startTestServices();
  const systems: System[] = [];
  for (const [key, setup] of Object.entries(setups)) {
    if (!setup || (only.length && !only.includes(key))) continue;
    console.log(`[${key}] ${new Date().toISOString().slice(11, 19)} starting, connecting ${SUBSCRIBERS} subscribers…`);
    systems.push(await setup(services));
  }
  await sleep(3000); // connection-time work (auth bookkeeping, presence) settles
  for (const system of systems) {
    console.log(`[${system.key}] ${new Date().toISOString().slice(11, 19)} warm-up: ${WARMUP_MESSAGES} messages`);
    await system.driver.closedLoop('warm', WARMUP_WINDOW, { count: WARMUP_MESSAGES });
  }

  const ranges = new Map<string, Array<{ rate: { first: number; sent: number }; loop: { first: number; sent: number }; cpu: Record<string, number> }>>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (let k = 0; k < systems.length; k++) {
      const system = systems[(k + round - 1) % systems.length];
      const rate = await system.driver.fixedRate(`rate${round}`, RATE_PER_SECOND, RATE_SECONDS);
      await sleep(300);
      const meter = new CpuMeter({ ...system.servers, subscribers: () => system.driver.subscriberPids, sender: () => [process.pid] });
      meter.start();
      const loop = await system.driver.closedLoop(`loop${round}`, LOOP_WINDOW, { seconds: LOOP_SECONDS });
      const cpu = meter.stop();
      ranges.set(system.key, [...(ranges.get(system.key) ?? []), { rate, loop, cpu }]);
      console.log(`[${system.key}] round ${round}: closed loop ${loop.sent} messages; CPU ${Object.entries(cpu).map(([l, c]) => `${l} ${pct(c)}`).join(', ')}`);
      await sleep(300);
    }
  }

  const rows: string[] = [];
  const notes: string[] = [];
  const others = [...ranges.values()].flat().map((r) => cpuShare(r.cpu, 'others'));
  for (const system of systems) {
    await Promise.all(system.driver.sent);
    if (system.driver.sendErrors) throw new Error(`${system.name}: ${system.driver.sendErrors} sends failed; first: ${String(system.driver.firstSendError)}`);
    const reports = await system.driver.report();
    const rounds: Round[] = ranges.get(system.key)!.map((r, i) => ({
      rate: system.driver.phaseResult(reports, `rate${i + 1}`, r.rate),
      loop: system.driver.phaseResult(reports, `loop${i + 1}`, r.loop),
      cpu: r.cpu,
    }));
    for (const [i, r] of rounds.entries()) {
      console.log(`[${system.key}] round ${i + 1}: fixed rate p50 ${ms(r.rate.hist.percentile(50))} / p99 ${ms(r.rate.hist.percentile(99))} / max ${ms(r.rate.hist.max)} ms; ` +
        `closed loop ${int(r.loop.deliveriesPerSecond)}/s, p50 ${ms(r.loop.hist.percentile(50))} / p99 ${ms(r.loop.hist.percentile(99))} ms; others ${pct(cpuShare(r.cpu, 'others'))}`);
    }
    const rateHist = rounds.reduce((h, r) => h.merge(r.rate.hist.toJSON()), new Histogram());
    const loopHist = rounds.reduce((h, r) => h.merge(r.loop.hist.toJSON()), new Histogram());
    const missing = rounds.reduce((n, r) => n + r.rate.expected - r.rate.delivered + r.loop.expected - r.loop.delivered, 0);
    const loopRates = rounds.map((r) => r.loop.deliveriesPerSecond);
    const rateRates = rounds.map((r) => r.rate.deliveriesPerSecond);
    const serverLabels = Object.keys(system.servers);
    const serverCores = median(rounds.map((r) => cores(r.cpu, serverLabels)));
    // Deliveries per second of server CPU: the efficiency figure least sensitive to the clients sharing the machine.
    const perServerCpuSecond = median(rounds.map((r) => r.loop.deliveriesPerSecond / cores(r.cpu, serverLabels)));
    const cpuDetail = serverLabels.map((label) => `${label} ${pct(median(rounds.map((r) => r.cpu[label] ?? 0)))}`).join(' + ');
    rows.push(`| ${system.name} | ${int(median(rateRates))} | ${ms(rateHist.percentile(50))} | ${ms(rateHist.percentile(99))} | ` +
      `**${int(median(loopRates))}** (${int(Math.min(...loopRates))}–${int(Math.max(...loopRates))}) | ${ms(loopHist.percentile(50))} | ${ms(loopHist.percentile(99))} | ` +
      `${pct(serverCores)} (${cpuDetail}) | ${pct(median(rounds.map((r) => cpuShare(r.cpu, 'subscribers'))))} | ${int(perServerCpuSecond)} |`);
    const closes = reports.reduce((n, r) => n + r.unexpectedCloses, 0);
    const verdict = system.verify ? ` ${await system.verify(reports)}.` : '';
    const frameBytes = Math.max(...reports.map((r) => r.frameBytes));
    const perRound = `per round, fixed-rate p99 ${rounds.map((r) => ms(r.rate.hist.percentile(99))).join(' / ')} ms and closed-loop p99 ${rounds.map((r) => ms(r.loop.hist.percentile(99))).join(' / ')} ms`;
    notes.push(`- **${system.name}**: ${system.setup}. ${int(frameBytes)}-byte frame per delivery; ${int(SUBSCRIBERS)} subscribers connected${system.key === 'sesame' ? ' and authenticated' : ''} in ${system.driver.connectSeconds.toFixed(1)} s; ${perRound}.${verdict}${missing ? ` ${int(missing)} deliveries missing.` : ''}${closes ? ` ${closes} subscriber connections closed during the run.` : ''}`);
    console.log(`${system.name}: fixed rate p50 ${ms(rateHist.percentile(50))} ms p99 ${ms(rateHist.percentile(99))} ms; closed loop ${loopRates.map(int).join(' / ')} deliveries/s, p50 ${ms(loopHist.percentile(50))} ms p99 ${ms(loopHist.percentile(99))} ms; server CPU ${pct(serverCores)} (${cpuDetail}); ${int(perServerCpuSecond)} deliveries per server CPU-second.${verdict}`);
  }
  for (const system of systems) await system.driver.close();
  console.log(`other processes on the machine during the closed loops: ${others.map(pct).join(', ')}`);
  if (only.length) return;

  const markdown = [
    '## Realtime fan-out (1 sender → 1,000 subscribers)',
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback; PostgreSQL and Redis from \`scripts/dev/test-services.sh\` (fsync off).`,
    '',
    `One channel (room) of ${int(SUBSCRIBERS)} subscribers held by ${SUBSCRIBER_PROCESSES} client processes of ${SUBSCRIBERS / SUBSCRIBER_PROCESSES} connections, separate from the server processes; the sender runs in the bench process. Each message has a ${CONTENT_BYTES}-byte content carrying its send time on the machine's monotonic clock; latency = receive time − send time, for every delivery. All systems are set up and warmed up (${WARMUP_MESSAGES} messages each, not counted) first, then measured in ${ROUNDS} interleaved rounds (order rotated each round), each round running for each system:`,
    `- **fixed rate**: ${RATE_PER_SECOND} messages/s for ${RATE_SECONDS} s (${int(RATE_PER_SECOND * SUBSCRIBERS)} deliveries/s offered), sent on schedule whatever the deliveries do: latency under a moderate load;`,
    `- **closed loop**: for ${LOOP_SECONDS} s the sender keeps ${LOOP_WINDOW} messages in flight, a message leaving flight when the last of the ${int(SUBSCRIBERS)} subscribers has it: the saturation throughput, and latency at saturation (mostly queueing).`,
    '',
    `Deliveries/s = deliveries to all subscribers ÷ (last receive − first send of the phase); the median of the ${ROUNDS} rounds, closed-loop range in brackets. Latency percentiles (ms) pool every delivery of the ${ROUNDS} rounds. CPU is measured during the closed loop (100% = one core; server = every process of the system, databases included). The 2 cores are shared by servers, databases, clients and sender — and here by other users of the machine — so the closed loop is bounded by the whole machine: *deliveries per server CPU-second* is the figure least distorted by that.`,
    '',
    '| system | fixed rate: deliveries/s | p50 | p99 | closed loop: deliveries/s | p50 | p99 | server CPU | subscribers CPU | deliveries per server CPU-second |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...notes,
    '',
    `Noise: processes outside the bench used a median ${pct(median(others))} of a core (range ${pct(Math.min(...others))}–${pct(Math.max(...others))}) during the closed loops of this run.`,
  ].join('\n');
  writeSection('realtime-fanout', markdown);
  console.log('\nwritten to docs/benchmarks.md');
});
