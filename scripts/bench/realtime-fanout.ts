/**
 * Realtime fan-out: one sender, 1,000 subscribers in one channel/room, the same harness against
 * Sesame (api + gateway processes on PostgreSQL + Redis, every message persisted), Socket.IO 4
 * with the Redis adapter (one node, and two nodes so messages cross Redis), a bare `ws`
 * broadcast server (the ceiling), and that server writing each message durably to the same
 * PostgreSQL before sending it (what durability alone costs, the plainest way).
 *
 *   npx tsx scripts/bench/realtime-fanout.ts             (or: npm run bench -- realtime-fanout)
 *   npx tsx scripts/bench/realtime-fanout.ts sesame ws   (only those systems; writes nothing;
 *                                                         keys: sesame socketio socketio2 ws wsdurable)
 *
 * All systems are set up first, then measured in interleaved rounds (rotating the order), so a
 * noisy neighbour on a shared machine hits them alike. Subscribers run in separate processes
 * from the servers; the sender runs in this process. Latency = receive time − send time on the
 * machine's monotonic clock (the same clock in every process).
 */
import { existsSync, readFileSync } from 'node:fs';
import { connectSocketIo, connectWs } from './support/clients.js';
import { FanoutDriver, traceUrl, type PhaseRange, type PhaseResult, type SubscriberReport } from './support/fanout-driver.js';
import { onCleanup, runBench, sleep } from './support/lifecycle.js';
import { startSocketIoServer, startWsServer } from './support/peers.js';
import { MessagePoster, startSesame, type SentMessage } from './support/sesame.js';
import { CpuMeter, Histogram, int, median, ms, nowNs, processTree } from './support/stats.js';
import { startTestServices, type TestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const SUBSCRIBERS = 1000;
const SUBSCRIBER_PROCESSES = 2;
const CONTENT_BYTES = 100;
const WARMUP_MESSAGES = 100;
const WARMUP_WINDOW = 4;
// BENCH_ROUNDS / BENCH_SECONDS shorten a run while iterating (the recorded figures use the defaults).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Fixed-rate phases, messages/s: ×1,000 subscribers = 20k and 50k deliveries/s offered. */
const RATES = [20, 50] as const;
const RATE_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const LOOP_WINDOW = 8;
const LOOP_SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
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

interface Round { rates: PhaseResult[]; rateCpu: Array<Record<string, number>>; loop: PhaseResult; cpu: Record<string, number> }

async function setupSesame(services: TestServices): Promise<System> {
  // BENCH_CPU_PROF=<dir>: V8 CPU profiles of the api and the gateway (written when they exit).
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  // BENCH_TRACE=<dir>: the api and the gateway record their GCs and event-loop stalls (see `printTail`).
  const trace = traceDir ? ['--import', traceUrl] : [];
  const sesame = await startSesame(services, {
    apiNodeArgs: [...prof, ...trace], gatewayNodeArgs: [...prof, ...trace], ...(traceDir ? { env: { BENCH_TRACE_DIR: traceDir } } : {}),
  });
  console.log('[Sesame] creating 1,000 agents and a group channel of them…');
  const agents = await sesame.rest.createAgents('fanout', SUBSCRIBERS);
  const channel = await sesame.rest.createGroup('fanout', agents.map((a) => a.id));
  const poster = new MessagePoster(sesame.apiUrl, sesame.adminKey, channel.id);
  const driver = new FanoutDriver('sesame', { send: (content) => poster.send(content), close: () => { poster.close(); } }, SUBSCRIBERS, SUBSCRIBER_PROCESSES, CONTENT_BYTES);
  await driver.connect({ kind: 'sesame', url: sesame.gatewayUrl, keys: agents.map((a) => a.apiKey) });
  if (process.env.BENCH_HOPS) await probeBus(services.redisUrl, channel.id);
  return {
    key: 'sesame',
    name: 'Sesame',
    setup: 'separate api and gateway processes on PostgreSQL + Redis; the sender (the admin) POSTs each message to `/channels/:id/messages` over kept-alive HTTP/1.1 connections (`node:http`; persisted with its event in one transaction, published on Redis, fanned out by the gateway) and does not wait for the response before the next; subscribers are 1,000 distinct agents, one raw `ws` connection each',
    driver,
    servers: { api: () => [sesame.api.pid], gateway: () => [sesame.gateway.pid], postgres: () => processTree(services.postgresPid), redis: () => [services.redisPid] },
    verify: async (reports) => {
      const seqs = (await Promise.all(driver.sent)).filter((m): m is SentMessage => Boolean(m)).map((m) => m.seq).sort((a, b) => a - b);
      const firstSeq = seqs[0];
      const lastSeq = seqs.at(-1)!;
      const tracks = reports.flatMap((r) => r.tracks);
      const exact = tracks.filter((t) => t.first === firstSeq && t.last === lastSeq && t.received === seqs.length && t.duplicates === 0 && t.gaps === 0).length;
      const sum = (f: (t: (typeof tracks)[number]) => number) => tracks.reduce((n, t) => n + f(t), 0);
      const presence = reports.reduce((n, r) => n + (r.otherFrames.presence ?? 0) + (r.otherFrames.presence_batch ?? 0), 0);
      return `${int(seqs.length)} messages persisted (seq ${firstSeq}–${lastSeq}${lastSeq - firstSeq + 1 === seqs.length ? '' : ', NOT contiguous'}); ` +
        `**${exact} of ${tracks.length} subscribers received every one exactly once, in seq order**` +
        (exact === tracks.length ? '' : ` (duplicates ${sum((t) => t.duplicates)}, out-of-order ${sum((t) => t.gaps)}, missing ${sum((t) => Math.max(0, seqs.length - t.received))})`) +
        `. Presence: each agent hears the principals it shares a channel with, batched per tick; the subscribers received ${int(presence)} presence frames (\`presence\` and \`presence_batch\`) in all, nearly all while the 1,000 agents came online`;
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

async function setupWs(services?: TestServices): Promise<System> {
  // With services: the durable peer, each frame written to the same PostgreSQL before it is sent.
  const server = await startWsServer(services ? { databaseUrl: services.databaseUrl } : {});
  const ws = await connectWs(`${server.url}/send`);
  const driver = new FanoutDriver(services ? 'ws durable' : 'ws', { send: (content) => { ws.send(content); }, close: () => { ws.terminate(); } }, SUBSCRIBERS, SUBSCRIBER_PROCESSES, CONTENT_BYTES);
  await driver.connect({ kind: 'ws', url: server.url });
  return services ? {
    key: 'wsdurable',
    name: 'ws + naive durable write',
    setup: 'the bare ws server made durable the plainest way: each frame first written in one transaction on the same PostgreSQL (pg pool of 10: row-locked seq, message row, event row, commit, as the writes bench\'s naive durable write), then sent as-is to every other socket; no Redis, no auth, no ordering across messages in flight, no replay — what durability alone adds to the ceiling',
    driver,
    servers: { server: () => [server.child.pid], postgres: () => processTree(services.postgresPid) },
  } : {
    key: 'ws',
    name: 'bare ws (ceiling)',
    setup: 'one `ws` 8 process sending each of the sender\'s frames as-is to every other socket: no persistence, no Redis, no auth',
    driver,
    servers: { server: () => [server.child.pid] },
  };
}

/** BENCH_CPU_PROF=<dir>: V8 CPU profiles of the api and the gateway (written when they exit). */
const profDir = process.env.BENCH_CPU_PROF;

/**
 * BENCH_TRACE=<dir> (with BENCH_HOPS): the tail, message by message. The api, the gateway, the
 * subscriber processes and this one record their GCs and event-loop stalls (trace-preload.mjs);
 * for each fixed-rate phase the bench prints its slowest messages (the last delivery's latency:
 * a round's p99 is its slowest 1% of messages' deliveries) split into hops — send → Redis,
 * Redis → first subscriber, then first → last delivery in each subscriber process — beside
 * what those processes did meanwhile, and the same for the phase's median message; and each
 * process's GCs over the whole phase (how many, median and longest pause, young generation size).
 */
const traceDir = process.env.BENCH_TRACE;
if (traceDir) {
  process.env.BENCH_TRACE_DIR = traceDir;
  void import(traceUrl);
}

/** gcs: [start ns, pause ns, kind, young generation's capacity KiB, old generation's live KiB]. */
interface Trace { gcs: Array<[number, number, string, number?, number?]>; stalls: Array<[number, number]>; statements?: Array<[number, number, string]> }

/** Asks each traced process for its trace (SIGUSR2) and reads them, by label. */
async function collectTraces(pids: Record<string, number[]>): Promise<Map<string, Trace>> {
  if (!traceDir) return new Map();
  const all = Object.entries(pids).flatMap(([label, list]) => list.map((pid, i) => [list.length > 1 ? `${label} ${i + 1}` : label, pid] as const));
  for (const [, pid] of all) { try { process.kill(pid, 'SIGUSR2'); } catch { /* gone */ } }
  await sleep(1000);
  const traces = new Map<string, Trace>();
  for (const [label, pid] of all) {
    const file = `${traceDir}/${pid}.json`;
    if (existsSync(file)) traces.set(label, JSON.parse(readFileSync(file, 'utf8')) as Trace);
  }
  return traces;
}

/** What a traced process did between `from` and `to` (ns): its GCs and stalls overlapping them. */
function during(trace: Trace, from: number, to: number): string {
  const parts: string[] = [];
  for (const [start, duration, kind] of trace.gcs) {
    if (start + duration >= from && start <= to) parts.push(`gc ${kind} ${(duration / 1e6).toFixed(1)} @${((start - from) / 1e6).toFixed(1)}`);
  }
  for (const [start, end] of trace.stalls) {
    if (end >= from && start <= to) parts.push(`stall ${((end - start) / 1e6).toFixed(1)} @${((start - from) / 1e6).toFixed(1)}`);
  }
  // Statements by what they are: how many ran in the window, and the longest.
  const statements = new Map<string, { count: number; longest: number }>();
  for (const [start, duration, label] of trace.statements ?? []) {
    if (start + duration < from || start > to) continue;
    const seen = statements.get(label) ?? { count: 0, longest: 0 };
    seen.count++;
    seen.longest = Math.max(seen.longest, duration);
    statements.set(label, seen);
  }
  for (const [label, { count, longest }] of statements) parts.push(`sql ${count}× "${label}" (longest ${(longest / 1e6).toFixed(1)})`);
  return parts.join(', ');
}

/** A traced process's GCs between `from` and `to` (ns): how many of each kind, their median and longest pause (ms). */
function gcSummary(trace: Trace, from: number, to: number): string {
  const byKind = new Map<string, number[]>();
  let young: number | undefined;
  for (const [start, duration, kind, youngKiB] of trace.gcs) {
    if (start < from || start > to) continue;
    const pauses = byKind.get(kind) ?? [];
    pauses.push(duration / 1e6);
    byKind.set(kind, pauses);
    young = youngKiB ?? young;
  }
  if (byKind.size === 0) return 'none';
  const kinds = [...byKind].map(([kind, pauses]) => {
    pauses.sort((a, b) => a - b);
    return `${pauses.length} ${kind} (median ${pauses[pauses.length >> 1].toFixed(1)}, longest ${pauses[pauses.length - 1].toFixed(1)})`;
  });
  return `${kinds.join(', ')}${young === undefined ? '' : ` [young generation ${(young / 1024).toFixed(0)} MiB]`}`;
}

function printTail(system: System, reports: SubscriberReport[], phases: Map<string, PhaseRange>, traces: Map<string, Trace>): void {
  const redisAt = new Map<number, bigint>();
  if (system.key === 'sesame') for (const arrivals of busArrivals.values()) for (const { index, redisNs } of arrivals) redisAt.set(index, redisNs);
  const byProcess = reports.map((report) => ({
    first: new Map((report.firstRecvNs ?? []).map(([index, ns]) => [index, BigInt(ns)])),
    last: new Map((report.lastRecvNs ?? []).map(([index, ns]) => [index, BigInt(ns)])),
  }));
  const msOf = (ns: bigint) => (Number(ns) / 1e6).toFixed(1);
  for (const [phase, range] of phases) {
    const messages: Array<{ index: number; total: bigint }> = [];
    for (let index = range.first; index < range.first + range.sent; index++) {
      const sent = system.driver.sentAt(index);
      const done = system.driver.doneAt(index);
      if (sent !== undefined && done !== undefined) messages.push({ index, total: done - sent });
    }
    messages.sort((a, b) => Number(b.total - a.total));
    // Send → Redis split at the api's batch statement (the one that started first after the send):
    // before it (the request, auth, the route), the statement, after it (the publish).
    const batches = (traces.get('api')?.statements ?? []).filter(([, , label]) => label === 'sesame_send_batch');
    if (batches.length && redisAt.size) {
      const before = new Histogram();
      const statement = new Histogram();
      const after = new Histogram();
      for (const { index } of messages) {
        const sent = Number(system.driver.sentAt(index));
        const redis = Number(redisAt.get(index) ?? 0n);
        const batch = batches.find(([start]) => start >= sent && start <= redis);
        if (!batch) continue;
        before.add((batch[0] - sent) / 1000);
        statement.add(batch[1] / 1000);
        after.add((redis - batch[0] - batch[1]) / 1000);
      }
      console.log(`[${system.key}] ${phase} send → Redis: send → statement p50 ${ms(before.percentile(50))} / p99 ${ms(before.percentile(99))}; ` +
        `statement p50 ${ms(statement.percentile(50))} / p99 ${ms(statement.percentile(99))}; statement → Redis p50 ${ms(after.percentile(50))} / p99 ${ms(after.percentile(99))} ms`);
    }
    const picks = [...messages.slice(0, Math.max(2, Math.ceil(messages.length / 50))).map((m) => ['slow', m] as const), ['median', messages[messages.length >> 1]] as const];
    console.log(`[${system.key}] tail of ${phase} (${messages.length} messages; ms; @ = ms after the send):`);
    const firstSent = system.driver.sentAt(range.first);
    const lastDone = messages.reduce<bigint | undefined>((latest, { index }) => {
      const done = system.driver.doneAt(index);
      return done !== undefined && (latest === undefined || done > latest) ? done : latest;
    }, undefined);
    if (firstSent !== undefined && lastDone !== undefined) {
      const gcs = [...traces].map(([label, trace]) => `${label} ${gcSummary(trace, Number(firstSent), Number(lastDone))}`);
      console.log(`  GCs in the phase (${msOf(lastDone - firstSent)} ms): ${gcs.join('; ')}`);
    }
    for (const [what, { index, total }] of picks) {
      const sent = system.driver.sentAt(index)!;
      const redis = redisAt.get(index);
      const hops = [`total ${msOf(total)}`];
      if (redis !== undefined) hops.push(`send→Redis ${msOf(redis - sent)}`);
      byProcess.forEach(({ first, last }, p) => {
        const f = first.get(index);
        const l = last.get(index);
        if (f !== undefined && l !== undefined) hops.push(`sub${p + 1}: ${redis !== undefined ? 'Redis' : 'send'}→first ${msOf(f - (redis ?? sent))}, first→last ${msOf(l - f)}`);
      });
      const done = system.driver.doneAt(index)!;
      const events = [...traces].map(([label, trace]) => [label, during(trace, Number(sent), Number(done))]).filter(([, text]) => text).map(([label, text]) => `${label}: ${text}`);
      console.log(`  ${what} #${index}: ${hops.join('; ')}${events.length ? `\n      ${events.join('\n      ')}` : ''}`);
    }
  }
}

/**
 * BENCH_HOPS=1: when each Sesame message reached Redis (a probe subscribed to its channel, beside
 * the gateway's subscription), by phase and message index. With the send time and the time the
 * message had reached every subscriber, that splits each message's latency into send → Redis
 * (the sender's request, the api's HTTP handling, commit and publish) and Redis → last
 * subscriber (the gateway's receive and its 1,000 writes, the subscribers' reads and decoding).
 */
const busArrivals = new Map<string, Array<{ index: number; sendNs: bigint; redisNs: bigint }>>();

async function probeBus(redisUrl: string, channelId: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  onCleanup('close the bus probe', () => { redis.disconnect(); });
  redis.on('message', (_topic: string, payload: string) => {
    const now = nowNs();
    const match = /"b:([^:]+):(\d+):(\d+):/.exec(payload);
    if (!match) return;
    let arrivals = busArrivals.get(match[1]);
    if (!arrivals) busArrivals.set(match[1], (arrivals = []));
    arrivals.push({ index: Number(match[2]), sendNs: BigInt(match[3]), redisNs: now });
  });
  await redis.subscribe(`sesame:${channelId}`);
}

/**
 * Per phase: send → Redis, Redis → the message at its first subscriber (the gateway's receive
 * and first write, a subscriber process waking) and Redis → at every subscriber (the gateway's
 * 1,000 writes and the subscribers' reads and decoding on top), see `busArrivals`.
 */
function printHops(driver: FanoutDriver, reports: SubscriberReport[]): void {
  const firstNs = new Map<number, bigint>();
  for (const report of reports) {
    for (const [index, ns] of report.firstRecvNs ?? []) {
      const at = BigInt(ns);
      const known = firstNs.get(index);
      if (known === undefined || at < known) firstNs.set(index, at);
    }
  }
  for (const [phase, arrivals] of busArrivals) {
    const toRedis = new Histogram();
    const first = new Histogram();
    const fanout = new Histogram();
    for (const { index, sendNs, redisNs } of arrivals) {
      toRedis.add(Number(redisNs - sendNs) / 1000);
      const firstAt = firstNs.get(index);
      if (firstAt !== undefined) first.add(Number(firstAt - redisNs) / 1000);
      const done = driver.doneAt(index);
      if (done !== undefined) fanout.add(Number(done - redisNs) / 1000);
    }
    console.log(`[sesame] ${phase}: send → Redis p50 ${ms(toRedis.percentile(50))} / p99 ${ms(toRedis.percentile(99))} ms; ` +
      `Redis → first subscriber p50 ${ms(first.percentile(50))} / p99 ${ms(first.percentile(99))} ms; ` +
      `Redis → at every subscriber p50 ${ms(fanout.percentile(50))} / p99 ${ms(fanout.percentile(99))} ms`);
  }
}

const cores = (usage: Record<string, number>, labels: string[]) => labels.reduce((sum, label) => sum + (usage[label] ?? 0), 0);
const pct = (c: number) => `${(c * 100).toFixed(0)}%`;

void runBench(async () => {
  const setups: Partial<Record<string, (services: TestServices) => Promise<System>>> = {
    sesame: setupSesame,
    socketio: (services) => setupSocketIo(services, 1),
    socketio2: (services) => setupSocketIo(services, 2),
    ws: () => setupWs(),
    wsdurable: (services) => setupWs(services),
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

  type Range = { first: number; sent: number };
  const ranges = new Map<string, Array<{ rates: Range[]; rateCpu: Array<Record<string, number>>; loop: Range; cpu: Record<string, number> }>>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (let k = 0; k < systems.length; k++) {
      const system = systems[(k + round - 1) % systems.length];
      const meter = () => new CpuMeter({ ...system.servers, subscribers: () => system.driver.subscriberPids, sender: () => [process.pid] });
      const rates: Range[] = [];
      const rateCpu: Array<Record<string, number>> = [];
      for (const rate of RATES) {
        const rateMeter = meter();
        rateMeter.start();
        const startedNs = nowNs();
        rates.push(await system.driver.fixedRate(`rate${rate}-${round}`, rate, RATE_SECONDS));
        // Phase bounds on the monotonic clock (µs), the clock of V8 CPU profiles: to cut a profile to a phase.
        if (profDir) console.log(`[${system.key}] phase rate${rate}-${round} µs ${startedNs / 1000n}–${nowNs() / 1000n}`);
        rateCpu.push(rateMeter.stopSeconds());
        await sleep(300);
      }
      const loopMeter = meter();
      loopMeter.start();
      const loop = await system.driver.closedLoop(`loop${round}`, LOOP_WINDOW, { seconds: LOOP_SECONDS });
      const cpu = loopMeter.stop();
      ranges.set(system.key, [...(ranges.get(system.key) ?? []), { rates, rateCpu, loop, cpu }]);
      console.log(`[${system.key}] round ${round}: closed loop ${loop.sent} messages; CPU ${Object.entries(cpu).map(([l, c]) => `${l} ${pct(c)}`).join(', ')}`);
      await sleep(300);
    }
  }

  const rows: string[] = [];
  const notes: string[] = [];
  let sesameReports: SubscriberReport[] = [];
  const rateP99 = new Map<string, number[]>();
  const others = [...ranges.values()].flat().map((r) => cpuShare(r.cpu, 'others'));
  for (const system of systems) {
    await Promise.all(system.driver.sent);
    if (system.driver.sendErrors) throw new Error(`${system.name}: ${system.driver.sendErrors} sends failed; first: ${String(system.driver.firstSendError)}`);
    const reports = await system.driver.report();
    if (system.key === 'sesame') sesameReports = reports;
    const rounds: Round[] = ranges.get(system.key)!.map((r, i) => ({
      rates: RATES.map((rate, j) => system.driver.phaseResult(reports, `rate${rate}-${i + 1}`, r.rates[j])),
      rateCpu: r.rateCpu,
      loop: system.driver.phaseResult(reports, `loop${i + 1}`, r.loop),
      cpu: r.cpu,
    }));
    for (const [i, r] of rounds.entries()) {
      const fixed = RATES.map((rate, j) => `${rate}/s p50 ${ms(r.rates[j].hist.percentile(50))} / p99 ${ms(r.rates[j].hist.percentile(99))} / max ${ms(r.rates[j].hist.max)} ms`).join('; ');
      console.log(`[${system.key}] round ${i + 1}: fixed rate ${fixed}; ` +
        `closed loop ${int(r.loop.deliveriesPerSecond)}/s, p50 ${ms(r.loop.hist.percentile(50))} / p99 ${ms(r.loop.hist.percentile(99))} ms; others ${pct(cpuShare(r.cpu, 'others'))}`);
    }
    const rateHists = RATES.map((_, j) => rounds.reduce((h, r) => h.merge(r.rates[j].hist.toJSON()), new Histogram()));
    rateP99.set(system.key, rateHists.map((h) => h.percentile(99)));
    const loopHist = rounds.reduce((h, r) => h.merge(r.loop.hist.toJSON()), new Histogram());
    const missing = rounds.reduce((n, r) => n + r.rates.reduce((m, p) => m + p.expected - p.delivered, 0) + r.loop.expected - r.loop.delivered, 0);
    const loopRates = rounds.map((r) => r.loop.deliveriesPerSecond);
    const serverLabels = Object.keys(system.servers);
    const serverCores = median(rounds.map((r) => cores(r.cpu, serverLabels)));
    // Deliveries per second of server CPU: the efficiency figure least sensitive to the clients sharing the machine.
    const perServerCpuSecond = median(rounds.map((r) => r.loop.deliveriesPerSecond / cores(r.cpu, serverLabels)));
    const cpuDetail = serverLabels.map((label) => `${label} ${pct(median(rounds.map((r) => r.cpu[label] ?? 0)))}`).join(' + ');
    // CPU per 1,000 deliveries at each fixed rate (ms), by process group: the servers', then the clients' (they share the 2 cores).
    const perThousand = RATES.map((rate, j) => `${rate}/s: ` + [...serverLabels, 'subscribers', 'sender'].map((label) =>
      `${label} ${median(rounds.map((r) => ((r.rateCpu[j][label] ?? 0) * 1e6) / r.rates[j].delivered)).toFixed(1)}`).join(', ')).join('; ');
    console.log(`[${system.key}] CPU ms per 1,000 deliveries at fixed rate (the servers, then the bench's subscribers and sender): ${perThousand}`);
    rows.push(`| ${system.name} | ${rateHists.map((h) => `${ms(h.percentile(50))} | ${ms(h.percentile(99))}`).join(' | ')} | ` +
      `**${int(median(loopRates))}** (${int(Math.min(...loopRates))}–${int(Math.max(...loopRates))}) | ${ms(loopHist.percentile(50))} | ${ms(loopHist.percentile(99))} | ` +
      `${pct(serverCores)} (${cpuDetail}) | ${pct(median(rounds.map((r) => cpuShare(r.cpu, 'subscribers'))))} | ${int(perServerCpuSecond)} |`);
    const closes = reports.reduce((n, r) => n + r.unexpectedCloses, 0);
    const verdict = system.verify ? ` ${await system.verify(reports)}.` : '';
    const frameBytes = Math.max(...reports.map((r) => r.frameBytes));
    // The clients' own share of the latency: decoding each frame, in the subscriber processes.
    const decoded = reports.reduce((sum, r) => ({ frames: sum.frames + r.decoding.frames, ms: sum.ms + r.decoding.ms }), { frames: 0, ms: 0 });
    const decoding = decoded.frames ? `the subscribers spent ${((decoded.ms * 1000) / decoded.frames).toFixed(2)} µs decoding each frame (${system.key === 'sesame' ? '`JSON.parse`' : '`toString`'}; ${(decoded.ms * SUBSCRIBERS / decoded.frames).toFixed(2)} ms per message of ${int(SUBSCRIBERS)} deliveries, CPU the subscriber processes take from the same 2 cores)` : '';
    if (decoding) console.log(`[${system.key}] ${decoding}`);
    const perRound = `per round, ${RATES.map((rate, j) => `${int(rate * SUBSCRIBERS)}/s p99 ${rounds.map((r) => ms(r.rates[j].hist.percentile(99))).join(' / ')} ms`).join(', ')} and closed-loop p99 ${rounds.map((r) => ms(r.loop.hist.percentile(99))).join(' / ')} ms`;
    notes.push(`- **${system.name}**: ${system.setup}. ${int(frameBytes)}-byte frame per delivery; ${int(SUBSCRIBERS)} subscribers connected${system.key === 'sesame' ? ' and authenticated' : ''} in ${system.driver.connectSeconds.toFixed(1)} s; ${perRound}; CPU per 1,000 deliveries (ms; the servers, then the bench's subscribers and sender) ${perThousand}${decoding ? `; ${decoding}` : ''}.${verdict}${missing ? ` ${int(missing)} deliveries missing.` : ''}${closes ? ` ${closes} subscriber connections closed during the run.` : ''}`);
    console.log(`${system.name}: fixed rate ${RATES.map((rate, j) => `${rate}/s p50 ${ms(rateHists[j].percentile(50))} ms p99 ${ms(rateHists[j].percentile(99))} ms`).join(', ')}; closed loop ${loopRates.map(int).join(' / ')} deliveries/s, p50 ${ms(loopHist.percentile(50))} ms p99 ${ms(loopHist.percentile(99))} ms; server CPU ${pct(serverCores)} (${cpuDetail}); ${int(perServerCpuSecond)} deliveries per server CPU-second.${verdict}`);
  }
  if (process.env.BENCH_HOPS && traceDir) {
    for (const system of systems) {
      // Only Sesame's servers run the preload (a peer's would die of the signal); every system's subscribers do.
      const servers = system.key !== 'sesame' ? {} : Object.fromEntries(Object.entries(system.servers).filter(([label]) => label !== 'postgres' && label !== 'redis').map(([label, pids]) => [label, pids()]));
      const traces = await collectTraces({ ...servers, sub: system.driver.subscriberPids, bench: [process.pid] });
      const phases = new Map<string, PhaseRange>();
      for (const [round, r] of (ranges.get(system.key) ?? []).entries()) RATES.forEach((rate, j) => phases.set(`rate${rate}-${round + 1}`, r.rates[j]));
      printTail(system, system.key === 'sesame' ? sesameReports : await system.driver.report(), phases, traces);
    }
  }
  for (const system of systems) await system.driver.close();
  const sesameSystem = systems.find((system) => system.key === 'sesame');
  if (sesameSystem) printHops(sesameSystem.driver, sesameReports);
  console.log(`other processes on the machine during the closed loops: ${others.map(pct).join(', ')}`);
  const sesameP99 = rateP99.get('sesame');
  const wsP99 = rateP99.get('ws');
  const ratios = sesameP99 && wsP99 ? RATES.map((rate, j) => `${int(rate * SUBSCRIBERS)}/s ${(sesameP99[j] / wsP99[j]).toFixed(2)}×`).join(', ') : '';
  if (ratios) console.log(`Sesame p99 ÷ bare ws p99 at fixed rate: ${ratios}`);
  const durableP99 = rateP99.get('wsdurable');
  const durableRatios = sesameP99 && durableP99 ? RATES.map((rate, j) => `${int(rate * SUBSCRIBERS)}/s ${(sesameP99[j] / durableP99[j]).toFixed(2)}×`).join(', ') : '';
  if (durableRatios) console.log(`Sesame p99 ÷ ws + naive durable write p99 at fixed rate: ${durableRatios}`);
  if (only.length) return;

  const markdown = [
    '## Realtime fan-out (1 sender → 1,000 subscribers)',
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback; PostgreSQL and Redis from \`scripts/dev/test-services.sh\` (fsync off).`,
    '',
    `One channel (room) of ${int(SUBSCRIBERS)} subscribers held by ${SUBSCRIBER_PROCESSES} client processes of ${SUBSCRIBERS / SUBSCRIBER_PROCESSES} connections, separate from the server processes; the sender runs in the bench process. Each message has a ${CONTENT_BYTES}-byte content carrying its send time on the machine's monotonic clock; latency = receive time − send time, for every delivery. All systems are set up and warmed up (${WARMUP_MESSAGES} messages each, not counted) first, then measured in ${ROUNDS} interleaved rounds (order rotated each round), each round running for each system:`,
    `- **fixed rate**: ${RATES.map((rate) => `${rate} messages/s`).join(', then ')}, ${RATE_SECONDS} s each (${RATES.map((rate) => int(rate * SUBSCRIBERS)).join(' and ')} deliveries/s offered), sent on schedule whatever the deliveries do: latency under a set load;`,
    `- **closed loop**: for ${LOOP_SECONDS} s the sender keeps ${LOOP_WINDOW} messages in flight, a message leaving flight when the last of the ${int(SUBSCRIBERS)} subscribers has it: the saturation throughput, and latency at saturation (mostly queueing).`,
    '',
    `Deliveries/s = deliveries to all subscribers ÷ (last receive − first send of the phase); the median of the ${ROUNDS} rounds, closed-loop range in brackets. Latency percentiles (ms) pool every delivery of the ${ROUNDS} rounds. CPU is measured during the closed loop (100% = one core; server = every process of the system, databases included). The 2 cores are shared by servers, databases, clients and sender — and here by other users of the machine — so the closed loop is bounded by the whole machine: *deliveries per server CPU-second* is the figure least distorted by that.${ratios ? ` Sesame's fixed-rate p99 ÷ bare \`ws\`'s in this run: ${ratios}.` : ''}${durableRatios ? ` Sesame's ÷ the durable \`ws\` peer's: ${durableRatios}.` : ''}`,
    '',
    `| system | ${RATES.map((rate) => `${int(rate * SUBSCRIBERS)}/s: p50 | p99`).join(' | ')} | closed loop: deliveries/s | p50 | p99 | server CPU | subscribers CPU | deliveries per server CPU-second |`,
    `| --- | ${RATES.map(() => '--- | ---').join(' | ')} | --- | --- | --- | --- | --- | --- |`,
    ...rows,
    '',
    ...notes,
    '',
    `Noise: processes outside the bench used a median ${pct(median(others))} of a core (range ${pct(Math.min(...others))}–${pct(Math.max(...others))}) during the closed loops of this run.`,
  ].join('\n');
  writeSection('realtime-fanout', markdown);
  console.log('\nwritten to docs/benchmarks.md');
});
