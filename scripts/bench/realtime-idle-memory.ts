/**
 * Memory per idle connection: 5,000 authenticated, idle connections on one Sesame gateway
 * process, against 5,000 idle Socket.IO connections (Redis adapter) and 5,000 bare `ws`
 * connections on their servers, in the same run.
 *
 *   npx tsx scripts/bench/realtime-idle-memory.ts      (or: npm run bench -- realtime-idle-memory)
 *
 * Each server runs with `--inspect=127.0.0.1:0` so the bench can force full GCs and read the
 * V8 heap from outside; RSS is VmRSS from /proc. Clients run in a separate process.
 */
import { spawnBenchProcess } from './support/child.js';
import type { SystemKind } from './support/clients.js';
import { runBench } from './support/lifecycle.js';
import { INSPECT_FLAG, Inspector, sampleMemory, type MemorySample } from './support/memory.js';
import { startSocketIoServer, startWsServer } from './support/peers.js';
import { startSesame } from './support/sesame.js';
import { int } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const CONNECTIONS = 5000;
const AGENTS = 100;
const WARMUP_CONNECTIONS = 100;
const SETTLE_MS = 10_000;
const CONNECT_CONCURRENCY = 50;
const COMMAND = 'npx tsx scripts/bench/realtime-idle-memory.ts';

interface Target { name: string; setup: string; pid: number; inspector: Inspector; spec: { kind: SystemKind; url: string; keys?: string[] } }
interface Result { target: Target; base: MemorySample; loaded: MemorySample; connectSeconds: number; closes: number }

async function openConnections(target: Target, count: number, label: string) {
  const proc = spawnBenchProcess('support/subscriber-process.ts', label);
  const started = performance.now();
  await proc.request({ cmd: 'connect', ...target.spec, count, concurrency: CONNECT_CONCURRENCY });
  return { proc, seconds: (performance.now() - started) / 1000 };
}

async function measure(target: Target): Promise<Result> {
  console.log(`\n[${target.name}] warm-up: ${WARMUP_CONNECTIONS} connections opened and closed`);
  const warm = await openConnections(target, WARMUP_CONNECTIONS, `${target.name} warm-up clients`);
  await warm.proc.request({ cmd: 'close' });
  await warm.proc.stop();
  const base = await sampleMemory(target.pid, target.inspector, 3000);
  console.log(`[${target.name}] baseline: RSS ${mib(base.rss)}, heap ${mib(base.heapUsed)}; opening ${int(CONNECTIONS)} connections…`);
  const { proc, seconds } = await openConnections(target, CONNECTIONS, `${target.name} idle clients`);
  const loaded = await sampleMemory(target.pid, target.inspector, SETTLE_MS);
  const { connected, unexpectedCloses } = await proc.request<{ connected: number; unexpectedCloses: number }>({ cmd: 'report' });
  if (connected !== CONNECTIONS) throw new Error(`${target.name}: ${connected} of ${CONNECTIONS} connected`);
  console.log(`[${target.name}] ${int(CONNECTIONS)} connected in ${seconds.toFixed(1)} s; RSS ${mib(loaded.rss)}, heap ${mib(loaded.heapUsed)}: ` +
    `${kib((loaded.rss - base.rss) / CONNECTIONS)} RSS and ${kib((loaded.heapUsed - base.heapUsed) / CONNECTIONS)} heap per connection; ${unexpectedCloses} closed meanwhile`);
  await proc.request({ cmd: 'close' });
  await proc.stop();
  return { target, base, loaded, connectSeconds: seconds, closes: unexpectedCloses };
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

void runBench(async () => {
  const services = startTestServices();
  const results: Result[] = [];

  const sesame = await startSesame(services, { gatewayNodeArgs: [INSPECT_FLAG] });
  console.log(`[Sesame] creating ${AGENTS} agents in one group channel…`);
  const agents = await sesame.rest.createAgents('idle', AGENTS);
  await sesame.rest.createGroup('idle', agents.map((a) => a.id));
  results.push(await measure({
    name: 'Sesame gateway',
    setup: `the gateway process alone (the api runs in its own process); ${int(CONNECTIONS)} raw \`ws\` connections authenticated with the API keys of ${AGENTS} agents (${CONNECTIONS / AGENTS} connections each), each agent a member of one shared group channel, so every session follows 2 streams (its inbox and the channel) and hears the presence of its channel's members (one presence subscription per workspace per gateway, not per session)`,
    pid: sesame.gateway.pid, inspector: await Inspector.attach(sesame.gateway),
    spec: { kind: 'sesame', url: sesame.gatewayUrl, keys: agents.map((a) => a.apiKey) },
  }));
  await sesame.gateway.stop();
  await sesame.api.stop();

  const socketIo = await startSocketIoServer({ redisUrl: services.redisUrl, redisKey: 'idle', nodeArgs: [INSPECT_FLAG] });
  results.push(await measure({
    name: 'Socket.IO + Redis adapter',
    setup: `Socket.IO 4.8 with \`@socket.io/redis-adapter\`, WebSocket transport only; each socket joins one room; the server pings every 25 s (default)`,
    pid: socketIo.child.pid, inspector: await Inspector.attach(socketIo.child),
    spec: { kind: 'socketio', url: socketIo.url },
  }));
  await socketIo.child.stop();

  const ws = await startWsServer({ nodeArgs: [INSPECT_FLAG] });
  results.push(await measure({
    name: 'bare ws',
    setup: '`ws` 8 server keeping the sockets in a Set (the floor)',
    pid: ws.child.pid, inspector: await Inspector.attach(ws.child),
    spec: { kind: 'ws', url: ws.url },
  }));
  await ws.child.stop();

  const markdown = [
    `## Realtime idle memory (${int(CONNECTIONS)} idle connections on one process)`,
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback; clients in a separate process.`,
    '',
    `Per server: ${WARMUP_CONNECTIONS} connections opened and closed (warm-up: code paths loaded), then a baseline, then ${int(CONNECTIONS)} connections opened (${CONNECT_CONCURRENCY} at a time) and left idle for ${SETTLE_MS / 1000} s, then a second reading. Each reading forces two full garbage collections through the inspector protocol (the servers run with \`--inspect=127.0.0.1:0\`), then reads VmRSS from \`/proc/<pid>/status\` and \`heapUsed\` from \`process.memoryUsage()\`. Per connection = (loaded − baseline) ÷ ${int(CONNECTIONS)}. Kernel socket buffers are not part of a process's RSS and are not counted.`,
    '',
    '| server | RSS per connection | heap per connection | RSS baseline → loaded | heap baseline → loaded | connect time for 5,000 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.target.name} | **${kib((r.loaded.rss - r.base.rss) / CONNECTIONS)}** | ${kib((r.loaded.heapUsed - r.base.heapUsed) / CONNECTIONS)} | ${mib(r.base.rss)} → ${mib(r.loaded.rss)} | ${mib(r.base.heapUsed)} → ${mib(r.loaded.heapUsed)} | ${r.connectSeconds.toFixed(1)} s |`),
    '',
    ...results.map((r) => `- **${r.target.name}**: ${r.target.setup}.${r.closes ? ` ${r.closes} connections closed during the idle period.` : ''}`),
  ].join('\n');
  writeSection('realtime-idle-memory', markdown);
  console.log('\nwritten to docs/benchmarks.md');
});
