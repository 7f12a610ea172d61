/**
 * Connecting 1,000 agents: how long until all are authenticated and live, what the gateway
 * spends per connection (CPU), and how many presence frames the agents receive while they come
 * online — against Socket.IO (Redis adapter) connecting the same 1,000 in the same run.
 *
 *   npx tsx scripts/bench/realtime-connect.ts      (or: npm run bench -- realtime-connect)
 *   BENCH_ONLY=<prefix>   only the systems and shapes whose name starts so (e.g. "Sesame, one"), no section written
 *
 * Two shapes for Sesame: every agent in one group channel of 1,000 (the fan-out bench's shape,
 * the worst case for presence: everyone hears everyone) and 100 channels of 10. Clients are raw
 * `ws` connections in two separate processes, 25 handshakes at a time each, as in the fan-out bench.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { spawnBenchProcess, type Child } from './support/child.js';
import type { SystemKind } from './support/clients.js';
import { runBench, sleep } from './support/lifecycle.js';
import { startSocketIoServer } from './support/peers.js';
import { startSesame } from './support/sesame.js';
import { CpuMeter, int, nowNs, processTree } from './support/stats.js';
import { startTestServices, type TestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const AGENTS = 1000;
const CLIENT_PROCESSES = 2;
const CONCURRENCY = 25;
/**
 * Connects per system: the first on a freshly started server process (cold: its JIT has seen
 * nothing, as after a deploy whose clients all reconnect at once), the others once it has
 * served connections (warm: a running node taking a burst). Each round's 1,000 close before the next.
 */
const ROUNDS = Math.max(1, Math.floor(Number(process.env.BENCH_ROUNDS ?? 3)) || 3);
// Presence and other connection-time work settle before frames are counted.
const SETTLE_MS = 2_000;
// Postgres backends flush their statistics at most this late once idle (PGSTAT_IDLE_INTERVAL 10 s).
const STATS_LAG_MS = 11_000;
const COMMAND = 'npx tsx scripts/bench/realtime-connect.ts';
// Profiling: `CONNECT_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` runs the gateway with those node flags.
const GATEWAY_NODE_ARGS = process.env.CONNECT_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
// While profiling or iterating: only the systems (and Sesame shapes) whose name starts with this; nothing is written.
const ONLY = process.env.BENCH_ONLY;
const measured = (name: string) => !ONLY || name.startsWith(ONLY);

/** One connect of the 1,000 (a round). */
interface Run {
  seconds: number;
  /** Sesame: first open → the last presence frame any agent received (within the settle); undefined when none arrived. */
  presenceSeconds?: number;
  serverCpuMs: number;
  clientCpuMs: number;
  storeCpuMs?: { postgres: number; redis: number };
  frames: Partial<Record<string, number>>;
}

/** A system's rounds: the first on a fresh process (cold: its code not yet optimised), then warm ones. */
interface Result { name: string; setup: string; first: Run; warm: Run; warmSeconds: number[]; work?: Work }

/** What the connects cost besides CPU: Postgres statements, Redis commands and the gateway's write syscalls. */
interface Work { statements: number; redisCommands: number; redisByCommand: Record<string, number>; writes: number }

/**
 * Counters read before and after a connect: Postgres transactions committed (each statement the
 * gateway runs outside a transaction is one) and the write syscalls of the gateway process
 * (`syscw` of /proc/<pid>/io: write and writev alike). Postgres backends report their counts up to
 * STATS_LAG_MS late: both readings wait that long after the work they follow (the head polls of
 * that wait, one statement a second, are counted in).
 */
async function workCounters(services: TestServices, pid: number): Promise<() => Promise<Work>> {
  const db = new pg.Client({ connectionString: services.databaseUrl });
  await db.connect();
  const statements = async () => {
    const { rows } = await db.query<{ n: string }>('SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()');
    return Number(rows[0]?.n ?? 0);
  };
  const writes = () => Number(/syscw:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  // Commands Redis has processed (all clients: the gateway's, and the api's, idle here), this counter's INFO calls left out.
  const redis = new Redis(services.redisUrl);
  const commandCalls = async () => {
    const stats = await redis.info('commandstats');
    const calls = new Map<string, number>();
    for (const [, name, n] of stats.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) if (name !== 'info') calls.set(name, Number(n));
    return calls;
  };
  await sleep(STATS_LAG_MS);
  const before = { statements: await statements(), redisCommands: await commandCalls(), writes: writes() };
  return async () => {
    const afterWrites = writes();
    const afterRedis = await commandCalls();
    redis.disconnect();
    await sleep(STATS_LAG_MS);
    const afterStatements = await statements();
    await db.end();
    // The counter's own read (one transaction) is left out.
    const redisByCommand: Record<string, number> = {};
    for (const [name, n] of afterRedis) if (n > (before.redisCommands.get(name) ?? 0)) redisByCommand[name] = n - (before.redisCommands.get(name) ?? 0);
    const redisCommands = Object.values(redisByCommand).reduce((sum, n) => sum + n, 0);
    return { statements: afterStatements - before.statements - 1, redisCommands, redisByCommand, writes: afterWrites - before.writes };
  };
}

async function connectAll(label: string, spec: { kind: SystemKind; url: string; keys?: string[] }, serverPid: number, services?: TestServices): Promise<Run & { procs: Child[] }> {
  const procs = Array.from({ length: CLIENT_PROCESSES }, (_, p) => spawnBenchProcess('support/subscriber-process.ts', `${label} clients ${p + 1}`));
  // The client processes are loaded (tsx, modules) before anything is timed or metered.
  await Promise.all(procs.map((proc) => proc.request({ cmd: 'report' })));
  const perProc = AGENTS / CLIENT_PROCESSES;
  const meter = new CpuMeter({
    server: () => [serverPid],
    clients: () => procs.map((proc) => proc.pid),
    ...(services ? { postgres: () => processTree(services.postgresPid), redis: () => [services.redisPid] } : {}),
  });
  meter.start();
  // On the machine's monotonic clock, which the client processes' presence times use too.
  const startedNs = nowNs();
  await Promise.all(procs.map((proc, p) => proc.request({
    cmd: 'connect', kind: spec.kind, url: spec.url, count: perProc, concurrency: CONCURRENCY, keys: spec.keys?.slice(p * perProc, (p + 1) * perProc),
  })));
  const seconds = Number(nowNs() - startedNs) / 1e9;
  await sleep(SETTLE_MS);
  const cpu = meter.stopSeconds();
  const serverCpuMs = cpu.server * 1000;
  // The client processes share the cores with the server: what a connection costs them counts too.
  const clientCpuMs = cpu.clients * 1000;
  const storeCpuMs = services ? { postgres: cpu.postgres * 1000, redis: cpu.redis * 1000 } : undefined;
  const reports = await Promise.all(procs.map((proc) => proc.request<{ connected: number; otherFrames: Partial<Record<string, number>>; lastPresenceNs: string }>({ cmd: 'report' })));
  const lastPresenceNs = reports.reduce((latest, r) => (BigInt(r.lastPresenceNs) > latest ? BigInt(r.lastPresenceNs) : latest), 0n);
  const presenceSeconds = lastPresenceNs > startedNs ? Number(lastPresenceNs - startedNs) / 1e9 : undefined;
  const connected = reports.reduce((n, r) => n + r.connected, 0);
  if (connected !== AGENTS) throw new Error(`${label}: ${connected} of ${AGENTS} connected`);
  const frames: Partial<Record<string, number>> = {};
  for (const r of reports) for (const [type, n] of Object.entries(r.otherFrames)) frames[type] = (frames[type] ?? 0) + (n ?? 0);
  return { seconds, presenceSeconds, serverCpuMs, clientCpuMs, storeCpuMs, frames, procs };
}

async function closeAll(procs: Child[]): Promise<void> {
  for (const proc of procs) {
    await proc.request({ cmd: 'close' });
    await proc.stop();
  }
}

/**
 * `ROUNDS` connects of the 1,000 to one server process, each closed before the next (and the
 * server given `settleMs` to take the closes); `counted` wraps the first in the work counters.
 */
async function rounds(label: string, connect: () => Promise<Run & { procs: Child[] }>, settleMs: number, counted?: () => Promise<() => Promise<Work>>): Promise<{ first: Run; warm: Run; warmSeconds: number[]; work?: Work }> {
  const runs: Run[] = [];
  let work: Work | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const done = round === 0 ? await counted?.() : undefined;
    const { procs, ...run } = await connect();
    if (done) work = await done();
    console.log(`[${label}] round ${round + 1}${round === 0 ? ' (cold)' : ''}: ${run.seconds.toFixed(2)} s${run.presenceSeconds === undefined ? '' : ` (presence settled at ${run.presenceSeconds.toFixed(2)} s)`}; server ${(run.serverCpuMs / AGENTS).toFixed(2)} CPU-ms, clients ${(run.clientCpuMs / AGENTS).toFixed(2)} CPU-ms per connection${run.storeCpuMs ? `, postgres ${(run.storeCpuMs.postgres / AGENTS).toFixed(2)}, redis ${(run.storeCpuMs.redis / AGENTS).toFixed(2)}` : ''}; frames: ${JSON.stringify(run.frames)}`);
    runs.push(run);
    await closeAll(procs);
    await sleep(settleMs);
  }
  const later = runs.length > 1 ? runs.slice(1) : runs;
  // The warm round shown is the one of median connect time (of two, the slower).
  const warm = [...later].sort((a, b) => a.seconds - b.seconds)[Math.floor(later.length / 2)];
  return { first: runs[0], warm, warmSeconds: later.map((r) => r.seconds), work };
}

void runBench(async () => {
  const services = startTestServices();
  const results: Result[] = [];

  const sesame = await startSesame(services, { gatewayNodeArgs: GATEWAY_NODE_ARGS });
  console.log(`[Sesame] creating ${int(AGENTS)} agents…`);
  const agents = await sesame.rest.createAgents('connect', AGENTS);
  const keys = agents.map((a) => a.apiKey);
  // Shape 1: one channel of everyone. Shape 2: 100 channels of 10 (separate principals' keys: the same agents, other channels).
  await sesame.rest.createGroup('everyone', agents.map((a) => a.id));
  const shapes = [
    { name: 'Sesame, one channel of 1,000', keys },
  ];
  const small = await sesame.rest.createAgents('connect-small', AGENTS);
  for (let i = 0; i < AGENTS; i += 10) await sesame.rest.createGroup(`ten-${i / 10}`, small.slice(i, i + 10).map((a) => a.id));
  shapes.push({ name: 'Sesame, 100 channels of 10', keys: small.map((a) => a.apiKey) });

  for (const shape of shapes) {
    if (!measured(shape.name)) continue;
    console.log(`\n[${shape.name}] connecting ${int(AGENTS)} agents, ${ROUNDS} rounds…`);
    const result = await rounds(shape.name, () => connectAll(shape.name, { kind: 'sesame', url: sesame.gatewayUrl, keys: shape.keys }, sesame.gateway.pid, services),
      2_000, () => workCounters(services, sesame.gateway.pid)); // the offline announcements (ticks up to 1 s) settle between rounds
    if (result.work) console.log(`[${shape.name}] per connection (first round): ${(result.work.statements / AGENTS).toFixed(2)} statements, ${(result.work.redisCommands / AGENTS).toFixed(2)} Redis commands (${Object.entries(result.work.redisByCommand).sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${(n / AGENTS).toFixed(3)}`).join(', ')}), ${(result.work.writes / AGENTS).toFixed(2)} gateway write syscalls`);
    results.push({ name: shape.name, setup: 'separate api and gateway processes on PostgreSQL + Redis; each agent authenticates with its API key (`auth` frame) and follows its inbox and channels', ...result });
  }
  await sesame.gateway.stop();
  await sesame.api.stop();

  if (measured('Socket.IO')) {
    const socketIo = await startSocketIoServer({ redisUrl: services.redisUrl, redisKey: 'connect' });
    console.log(`\n[Socket.IO] connecting ${int(AGENTS)} sockets, ${ROUNDS} rounds…`);
    const result = await rounds('Socket.IO', () => connectAll('Socket.IO', { kind: 'socketio', url: socketIo.url }, socketIo.child.pid), 2_000);
    results.push({ name: 'Socket.IO + Redis adapter', setup: 'Socket.IO 4.8 with `@socket.io/redis-adapter`, WebSocket transport only, no authentication and no presence; each socket joins one room', ...result });
    await socketIo.child.stop();
  }
  if (ONLY) return;

  const presenceFrames = (r: Run) => (r.frames.presence ?? 0) + (r.frames.presence_batch ?? 0);
  const markdown = [
    `## Realtime connect (${int(AGENTS)} agents)`,
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback.`,
    '',
    `${int(AGENTS)} connections opened by ${CLIENT_PROCESSES} client processes (${CONCURRENCY} handshakes at a time each); connect time = first open → last authenticated (Sesame) or connected (Socket.IO); *presence settled* (Sesame) = first open → the last presence frame any agent received, the moment every agent knows who else is online (Socket.IO has no presence to settle). Server CPU (the gateway, or the Socket.IO process; Postgres and Redis apart) and client CPU (the 2 client processes, which share the cores: the \`auth\` frame, parsing presence frames) from /proc over the connect and a ${SETTLE_MS / 1000} s settle; over the same span, the gateway's write syscalls (\`syscw\` of /proc/<pid>/io), Postgres statements (transactions committed, counted once Postgres has reported them; the hub's head polls, one a second, included) and Redis commands (as Redis counts them: a script's own calls too). Presence frames: \`presence\` plus \`presence_batch\` frames received by all clients (each agent hears the principals it shares a channel with; changes are batched per tick, 50 ms to 1 s, and a tick due while handshakes are under way waits for them up to 1 s more: the presence of a burst mostly arrives after its last \`authenticated\`, within the settle, whose CPU is counted).`,
    '',
    `Each system is connected ${ROUNDS} times, the 1,000 closed between rounds: the first round on a freshly started server process (*cold*: its code not yet optimised by the JIT, as after a deploy whose clients all reconnect at once), the others on the same process (*warm*: a running node taking a burst; the round of median connect time is shown, all warm rounds' times in brackets). Sesame's two shapes share one gateway, so its second shape's first round runs on a gateway that has served the first shape. Statements and write syscalls are counted over the first round.`,
    '',
    '| system | connect time: cold | warm | presence settled: cold | warm | server CPU per connection: cold | warm | client CPU per connection: cold | warm | Postgres + Redis CPU per connection (cold) | presence frames received (cold) | statements per connection | Redis commands per connection | server write syscalls per connection |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => {
      const perConnection = (ms: number) => `${(ms / AGENTS).toFixed(2)} ms`;
      const settled = (run: Run) => (run.presenceSeconds === undefined ? '—' : `${run.presenceSeconds.toFixed(2)} s`);
      const warmTimes = r.warmSeconds.map((s) => s.toFixed(2)).join(' / ');
      return `| ${r.name} | **${r.first.seconds.toFixed(2)} s** | **${r.warm.seconds.toFixed(2)} s** (${warmTimes}) | ${settled(r.first)} | ${settled(r.warm)} | ${perConnection(r.first.serverCpuMs)} | ${perConnection(r.warm.serverCpuMs)} | ${perConnection(r.first.clientCpuMs)} | ${perConnection(r.warm.clientCpuMs)} | ${r.first.storeCpuMs ? `${(r.first.storeCpuMs.postgres / AGENTS).toFixed(2)} + ${(r.first.storeCpuMs.redis / AGENTS).toFixed(2)} ms` : '— (Redis adapter idle)'} | ${r.name.startsWith('Sesame') ? int(presenceFrames(r.first)) : '— (none)'} | ${r.work ? (r.work.statements / AGENTS).toFixed(2) : '—'} | ${r.work ? (r.work.redisCommands / AGENTS).toFixed(2) : '—'} | ${r.work ? (r.work.writes / AGENTS).toFixed(2) : '—'} |`;
    }),
    '',
    ...results.map((r) => `- **${r.name}**: ${r.setup}.`),
  ].join('\n');
  writeSection('realtime-connect', markdown);
  console.log('\nwritten to docs/benchmarks.md');
});
