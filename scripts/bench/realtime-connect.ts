/**
 * Connecting 1,000 agents: how long until all are authenticated and live, what the gateway
 * spends per connection (CPU), and how many presence frames the agents receive while they come
 * online — against Socket.IO (Redis adapter) connecting the same 1,000 in the same run.
 *
 *   npx tsx scripts/bench/realtime-connect.ts      (or: npm run bench -- realtime-connect)
 *
 * Two shapes for Sesame: every agent in one group channel of 1,000 (the fan-out bench's shape,
 * the worst case for presence: everyone hears everyone) and 100 channels of 10. Clients are raw
 * `ws` connections in two separate processes, 25 handshakes at a time each, as in the fan-out bench.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { spawnBenchProcess, type Child } from './support/child.js';
import type { SystemKind } from './support/clients.js';
import { runBench, sleep } from './support/lifecycle.js';
import { startSocketIoServer } from './support/peers.js';
import { startSesame } from './support/sesame.js';
import { CpuMeter, int, processTree } from './support/stats.js';
import { startTestServices, type TestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const AGENTS = 1000;
const CLIENT_PROCESSES = 2;
const CONCURRENCY = 25;
// Presence and other connection-time work settle before frames are counted.
const SETTLE_MS = 2_000;
// Postgres backends flush their statistics at most this late once idle (PGSTAT_IDLE_INTERVAL 10 s).
const STATS_LAG_MS = 11_000;
const COMMAND = 'npx tsx scripts/bench/realtime-connect.ts';
// Profiling: `CONNECT_GATEWAY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` runs the gateway with those node flags.
const GATEWAY_NODE_ARGS = process.env.CONNECT_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];

interface Result { name: string; setup: string; seconds: number; serverCpuMs: number; clientCpuMs: number; storeCpuMs?: { postgres: number; redis: number }; frames: Partial<Record<string, number>>; work?: Work }

/** What the connects cost besides CPU: Postgres statements and the gateway's write syscalls. */
interface Work { statements: number; writes: number }

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
  await sleep(STATS_LAG_MS);
  const before = { statements: await statements(), writes: writes() };
  return async () => {
    const afterWrites = writes();
    await sleep(STATS_LAG_MS);
    const afterStatements = await statements();
    await db.end();
    // The counter's own read (one transaction) is left out.
    return { statements: afterStatements - before.statements - 1, writes: afterWrites - before.writes };
  };
}

async function connectAll(label: string, spec: { kind: SystemKind; url: string; keys?: string[] }, serverPid: number, services?: TestServices): Promise<{ seconds: number; serverCpuMs: number; clientCpuMs: number; storeCpuMs?: { postgres: number; redis: number }; frames: Partial<Record<string, number>>; procs: Child[] }> {
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
  const started = performance.now();
  await Promise.all(procs.map((proc, p) => proc.request({
    cmd: 'connect', kind: spec.kind, url: spec.url, count: perProc, concurrency: CONCURRENCY, keys: spec.keys?.slice(p * perProc, (p + 1) * perProc),
  })));
  const seconds = (performance.now() - started) / 1000;
  await sleep(SETTLE_MS);
  const cpu = meter.stopSeconds();
  const serverCpuMs = cpu.server * 1000;
  // The client processes share the cores with the server: what a connection costs them counts too.
  const clientCpuMs = cpu.clients * 1000;
  const storeCpuMs = services ? { postgres: cpu.postgres * 1000, redis: cpu.redis * 1000 } : undefined;
  const reports = await Promise.all(procs.map((proc) => proc.request<{ connected: number; otherFrames: Partial<Record<string, number>> }>({ cmd: 'report' })));
  const connected = reports.reduce((n, r) => n + r.connected, 0);
  if (connected !== AGENTS) throw new Error(`${label}: ${connected} of ${AGENTS} connected`);
  const frames: Partial<Record<string, number>> = {};
  for (const r of reports) for (const [type, n] of Object.entries(r.otherFrames)) frames[type] = (frames[type] ?? 0) + (n ?? 0);
  return { seconds, serverCpuMs, clientCpuMs, storeCpuMs, frames, procs };
}

async function closeAll(procs: Child[]): Promise<void> {
  for (const proc of procs) {
    await proc.request({ cmd: 'close' });
    await proc.stop();
  }
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
    console.log(`\n[${shape.name}] connecting ${int(AGENTS)} agents…`);
    const counted = await workCounters(services, sesame.gateway.pid);
    const run = await connectAll(shape.name, { kind: 'sesame', url: sesame.gatewayUrl, keys: shape.keys }, sesame.gateway.pid, services);
    const work = await counted();
    const each = (n: number) => (n / AGENTS).toFixed(2);
    console.log(`[${shape.name}] ${run.seconds.toFixed(2)} s; gateway ${(run.serverCpuMs / AGENTS).toFixed(2)} CPU-ms per connection; per connection: clients ${each(run.clientCpuMs)} CPU-ms, postgres ${each(run.storeCpuMs?.postgres ?? 0)} CPU-ms, redis ${each(run.storeCpuMs?.redis ?? 0)} CPU-ms, ${each(work.statements)} statements, ${each(work.writes)} gateway write syscalls; frames: ${JSON.stringify(run.frames)}`);
    results.push({ name: shape.name, setup: 'separate api and gateway processes on PostgreSQL + Redis; each agent authenticates with its API key (`auth` frame) and follows its inbox and channels', ...run, work });
    await closeAll(run.procs);
    await sleep(1_000); // the offline announcements settle before the next shape
  }
  await sesame.gateway.stop();
  await sesame.api.stop();

  const socketIo = await startSocketIoServer({ redisUrl: services.redisUrl, redisKey: 'connect' });
  console.log(`\n[Socket.IO] connecting ${int(AGENTS)} sockets…`);
  const run = await connectAll('Socket.IO', { kind: 'socketio', url: socketIo.url }, socketIo.child.pid);
  console.log(`[Socket.IO] ${run.seconds.toFixed(2)} s; server ${(run.serverCpuMs / AGENTS).toFixed(2)} CPU-ms, clients ${(run.clientCpuMs / AGENTS).toFixed(2)} CPU-ms per connection`);
  results.push({ name: 'Socket.IO + Redis adapter', setup: 'Socket.IO 4.8 with `@socket.io/redis-adapter`, WebSocket transport only, no authentication and no presence; each socket joins one room', ...run });
  await closeAll(run.procs);
  await socketIo.child.stop();

  const presenceFrames = (r: Result) => (r.frames.presence ?? 0) + (r.frames.presence_batch ?? 0);
  const markdown = [
    `## Realtime connect (${int(AGENTS)} agents)`,
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback.`,
    '',
    `${int(AGENTS)} connections opened by ${CLIENT_PROCESSES} client processes (${CONCURRENCY} handshakes at a time each); connect time = first open → last authenticated (Sesame) or connected (Socket.IO). Server CPU (the gateway, or the Socket.IO process; Postgres and Redis apart) and client CPU (the 2 client processes, which share the cores: the \`auth\` frame, parsing presence frames) from /proc over the connect and a ${SETTLE_MS / 1000} s settle; over the same span, the gateway's write syscalls (\`syscw\` of /proc/<pid>/io) and Postgres statements (transactions committed, counted once Postgres has reported them; the hub's head polls, one a second, included). Presence frames: \`presence\` plus \`presence_batch\` frames received by all clients (each agent hears the principals it shares a channel with; changes are batched per 50 ms tick).`,
    '',
    '| system | connect time | server CPU per connection | client CPU per connection | Postgres + Redis CPU per connection | presence frames received | statements per connection | server write syscalls per connection |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.name} | **${r.seconds.toFixed(2)} s** | ${(r.serverCpuMs / AGENTS).toFixed(2)} ms | ${(r.clientCpuMs / AGENTS).toFixed(2)} ms | ${r.storeCpuMs ? `${(r.storeCpuMs.postgres / AGENTS).toFixed(2)} + ${(r.storeCpuMs.redis / AGENTS).toFixed(2)} ms` : '— (Redis adapter idle)'} | ${r.name.startsWith('Sesame') ? int(presenceFrames(r)) : '— (none)'} | ${r.work ? (r.work.statements / AGENTS).toFixed(2) : '—'} | ${r.work ? (r.work.writes / AGENTS).toFixed(2) : '—'} |`),
    '',
    ...results.map((r) => `- **${r.name}**: ${r.setup}.`),
  ].join('\n');
  writeSection('realtime-connect', markdown);
  console.log('\nwritten to docs/benchmarks.md');
});
