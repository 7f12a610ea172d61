/**
 * Writes: messages persisted through REST by 16 concurrent senders (autocannon, 16 connections,
 * one request in flight each), to one channel and spread over 16 channels, against two peers
 * on the same Fastify 5 and the same PostgreSQL in the same run: a bare Fastify echo (the HTTP
 * ceiling) and the plainest durable write (one transaction per message, row-locked seq, message
 * + event rows). Also the lightest requests: GET /health and /auth/me against a bare GET; and
 * one sender alone at 20 messages/s (a quiet server: the latency of a single send) on all three.
 *
 *   npx tsx scripts/bench/writes.ts      (or: npm run bench -- writes)
 *   BENCH_CPU_PROF=<dir>                 the api runs with --cpu-prof, profile written into <dir>
 *   BENCH_ONLY=<prefix>                  only the sends of systems named so (e.g. Sesame), no section written
 *   BENCH_ONLY=gets                      only the GET cells (/health, /auth/me, bare GET), no section written
 *   BENCH_ONLY=edits                     only the streaming-edit cells, no section written
 *   BENCH_ONLY=paced                     only the one-sender cells, no section written
 *   SESAME_WRITE_BATCHES_IN_FLIGHT=<n>   passed to the api (group-commit statements in flight per workspace)
 */
import pg from 'pg';
import { spawnBenchProcess, type Child } from './support/child.js';
import type { LoadResult, LoadRun, PacedResult, PacedRun } from './support/load-client.js';
import { runBench } from './support/lifecycle.js';
import { startSesame } from './support/sesame.js';
import { CpuMeter, int, median, processTree } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = 16;
const CHANNELS = 16;
const CONTENT = 'writes bench {n} '.padEnd(100, 'x');
/** One sender alone: this many sends a second, one at a time, each round. */
const PACED_RATE = 20;
const PACED_COUNT = 200;
const COMMAND = 'npx tsx scripts/bench/writes.ts';

interface Cell { label: string; runs: LoadResult[]; cpu: Array<Record<string, number>>; cpuPerOp: number[] }

async function main() {
  const services = startTestServices();
  if (process.env.BENCH_ONLY) console.log(`database: ${services.databaseUrl}`);
  const profDir = process.env.BENCH_CPU_PROF;
  // SESAME_WRITE_BATCHES_IN_FLIGHT, when set, goes to the api (to compare group-commit settings).
  const inFlight = process.env.SESAME_WRITE_BATCHES_IN_FLIGHT;
  const sesame = await startSesame(services, {
    apiNodeArgs: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [], env: inFlight ? { SESAME_WRITE_BATCHES_IN_FLIGHT: inFlight } : {},
  });
  const echo = spawnBenchProcess('support/write-peer-server.ts', 'echo server', { MODE: 'echo' });
  const naive = spawnBenchProcess('support/write-peer-server.ts', 'naive durable server', { MODE: 'naive', DATABASE_URL: services.databaseUrl });
  const echoUrl = `http://127.0.0.1:${(await echo.waitForOutput(/LISTENING (\d+)/))[1]}`;
  const naiveUrl = `http://127.0.0.1:${(await naive.waitForOutput(/LISTENING (\d+)/))[1]}`;
  const client: Child = spawnBenchProcess('support/load-client.ts', 'load client');

  const me = await sesame.rest.call<{ data: { id: string } }>('GET', '/auth/me');
  const channels: string[] = [];
  for (let i = 0; i < CHANNELS; i++) channels.push((await sesame.rest.createGroup(`writes-${i}`, [me.data.id])).id);
  const apiBase = new URL(sesame.apiUrl);
  const sesameAuth = { authorization: `Bearer ${sesame.adminKey}` };
  const body = JSON.stringify({ content: CONTENT, kind: 'text' });

  const meter = (server: Record<string, () => number[]>) => new CpuMeter({
    ...server, postgres: () => processTree(services.postgresPid), redis: () => [services.redisPid], client: () => [client.pid],
  });
  const sesameCpu = { api: () => [sesame.api.pid] };
  const allSystems = {
    'Sesame': (paths: string[]) => ({ url: apiBase.origin, paths: paths.map((c) => `${apiBase.pathname}/channels/${c}/messages`), headers: sesameAuth, cpu: sesameCpu }),
    'naive durable (Fastify + pg)': (paths: string[]) => ({ url: naiveUrl, paths: paths.map((c) => `/channels/${c}/messages`), headers: {}, cpu: { server: () => [naive.pid] } }),
    'bare Fastify echo': (paths: string[]) => ({ url: echoUrl, paths: paths.map((c) => `/channels/${c}/messages`), headers: {}, cpu: { server: () => [echo.pid] } }),
  };
  const shapes = { 'one channel': channels.slice(0, 1), [`${CHANNELS} channels`]: channels };
  const gets = {
    'Sesame GET /health': { url: apiBase.origin, paths: [`${apiBase.pathname}/health`], headers: {}, cpu: sesameCpu },
    'Sesame GET /auth/me': { url: apiBase.origin, paths: [`${apiBase.pathname}/auth/me`], headers: sesameAuth, cpu: sesameCpu },
    'bare Fastify GET': { url: echoUrl, paths: ['/health'], headers: {}, cpu: { server: () => [echo.pid] } },
  };

  // Streaming edits (`PATCH … {content, streaming: true}`, as an agent streams tokens into its
  // message): 16 messages, in one channel or one per channel, each edited over and over.
  const streamed = async (inChannels: string[]) => {
    const paths: string[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const channel = inChannels[i % inChannels.length];
      const sent = await sesame.rest.call<{ data: { id: string } }>('POST', `/channels/${channel}/messages`, { content: 'streaming…', kind: 'text' });
      paths.push(`${apiBase.pathname}/channels/${channel}/messages/${sent.data.id}`);
    }
    return paths;
  };
  const editBody = JSON.stringify({ content: CONTENT, streaming: true });
  const edits = {
    'Sesame streaming edits | one channel': { url: apiBase.origin, paths: await streamed(channels.slice(0, 1)), headers: sesameAuth, cpu: sesameCpu, body: editBody },
    [`Sesame streaming edits | ${CHANNELS} channels`]: { url: apiBase.origin, paths: await streamed(channels), headers: sesameAuth, cpu: sesameCpu, body: editBody },
    'bare Fastify echo PATCH': { url: echoUrl, paths: [`/channels/${channels[0]}/messages/m`], headers: {}, cpu: { server: () => [echo.pid] }, body: editBody },
  };

  // BENCH_ONLY=Sesame (a prefix of system names) measures only those, e.g. while profiling.
  const only = process.env.BENCH_ONLY;
  const systems: Partial<typeof allSystems> = only ? Object.fromEntries(Object.entries(allSystems).filter(([name]) => name.startsWith(only))) : allSystems;
  const cells = new Map<string, Cell>();
  const measure = async (key: string, label: string, target: { url: string; paths: string[]; headers: Record<string, string>; cpu: Record<string, () => number[]>; body?: string }, method: LoadRun['method'], seconds: number, record: boolean) => {
    const cpu = meter(target.cpu);
    cpu.start();
    const result = await client.request<LoadResult>({ cmd: 'run', url: target.url, paths: target.paths, headers: target.headers, body: target.body ?? body, method, connections: CONNECTIONS, seconds } satisfies LoadRun & { cmd: string });
    const usage = cpu.stop();
    // The server's CPU per answered request (its first group: the api, or the peer server),
    // a measure the machine's other load disturbs far less than rates do.
    const perOp = (usage[Object.keys(target.cpu)[0]] * result.seconds * 1e6) / Math.max(1, result.ok);
    if (!record) return;
    const cell = cells.get(key) ?? { label, runs: [], cpu: [], cpuPerOp: [] };
    cell.runs.push(result);
    cell.cpu.push(usage);
    cell.cpuPerOp.push(perOp);
    cells.set(key, cell);
    console.log(`${key}: ${int(result.perSecond)}/s, p50 ${result.p50} ms, p99 ${result.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}, server CPU ${perOp.toFixed(1)} µs/request, postgres ${int((usage.postgres * result.seconds * 1e6) / Math.max(1, result.ok))} µs/request, client ${(usage.client * result.seconds * 1e6 / Math.max(1, result.ok)).toFixed(1)} µs/request${only ? await batchesSince() : ''}`);
  };
  // One sender alone, one channel: a send's latency on a quiet server, and what it costs the
  // server and Postgres (CPU per request here includes waking each process from idle).
  const pacedCells = new Map<string, { runs: PacedResult[]; serverUs: number[]; postgresUs: number[] }>();
  const pacedSystems = Object.fromEntries(Object.entries(allSystems).map(([name, make]) => [name, make(channels.slice(0, 1))]));
  const measurePaced = async (name: string, record: boolean) => {
    const target = pacedSystems[name];
    const cpu = meter(target.cpu);
    cpu.start();
    const result = await client.request<PacedResult>({ cmd: 'paced', url: target.url, path: target.paths[0], headers: target.headers, body, perSecond: PACED_RATE, count: record ? PACED_COUNT : 20 } satisfies PacedRun & { cmd: string });
    const usage = cpu.stop();
    const perOp = (share: number) => (share * result.seconds * 1e6) / Math.max(1, result.ok);
    if (!record) return;
    const cell = pacedCells.get(name) ?? { runs: [], serverUs: [], postgresUs: [] };
    cell.runs.push(result);
    cell.serverUs.push(perOp(usage[Object.keys(target.cpu)[0]]));
    cell.postgresUs.push(perOp(usage.postgres));
    pacedCells.set(name, cell);
    console.log(`${name} | one sender at ${PACED_RATE}/s: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, mean ${result.mean.toFixed(2)} ms, failed ${result.failed}, server CPU ${int(perOp(usage[Object.keys(target.cpu)[0]]))} µs/request, postgres ${int(perOp(usage.postgres))} µs/request`);
  };
  // While iterating (BENCH_ONLY): the api's group commits since the last cell, from its /metrics.
  let batchMark = { count: 0, sum: 0 };
  const batchesSince = async () => {
    const text = await (await fetch(`${apiBase.origin}/metrics`)).text();
    const read = (name: string) => Number(text.match(new RegExp(`^sesame_message_batch_size_${name} (\\S+)$`, 'm'))?.[1] ?? 0);
    const now = { count: read('count'), sum: read('sum') };
    const [count, sum] = [now.count - batchMark.count, now.sum - batchMark.sum];
    batchMark = now;
    return count ? `, ${int(count)} send batches of ${(sum / count).toFixed(1)} on average` : '';
  };

  if (only === 'gets') {
    // Request overhead alone (while profiling the edge): warm-up, then the GET cells per round.
    for (const [name, target] of Object.entries(gets)) await measure(name, name, target, 'GET', 2, false);
    for (let round = 0; round < ROUNDS; round++) for (const [name, target] of Object.entries(gets)) await measure(name, name, target, 'GET', Math.max(3, SECONDS / 2), true);
    return;
  }
  if (only === 'edits') {
    // Streaming edits alone (while profiling the edit path): warm-up, then the edit cells per round.
    for (const [name, target] of Object.entries(edits)) await measure(name, name, target, 'PATCH', 2, false);
    for (let round = 0; round < ROUNDS; round++) for (const [name, target] of Object.entries(edits)) await measure(name, name, target, 'PATCH', SECONDS, true);
    return;
  }
  if (only === 'paced') {
    for (const name of Object.keys(allSystems)) await measurePaced(name, false);
    for (let round = 0; round < ROUNDS; round++) for (const name of Object.keys(allSystems)) await measurePaced(name, true);
    return;
  }
  // Warm-up (JIT, pools, plans), not recorded.
  for (const [name, make] of Object.entries(systems)) await measure(name, name, make(channels), 'POST', 2, false);
  if (only) {
    for (const [shape, paths] of Object.entries(shapes)) for (const [name, make] of Object.entries(systems)) await measure(`${name} | ${shape}`, name, make(paths), 'POST', SECONDS, true);
    return;
  }
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(systems);
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    for (const [shape, paths] of Object.entries(shapes)) {
      for (const name of order) await measure(`${name} | ${shape}`, name, systems[name as keyof typeof systems]!(paths), 'POST', SECONDS, true);
    }
    for (const [name, target] of Object.entries(edits)) await measure(name, name, target, 'PATCH', SECONDS, true);
    for (const [name, target] of Object.entries(gets)) await measure(name, name, target, 'GET', Math.max(3, SECONDS / 2), true);
    for (const name of order) await measurePaced(name, true);
  }

  // Durability check: every 2xx send is a message with its event; each channel's stream is
  // gapless (messages and the streaming edits' message.updated events share its seqs, so the
  // stream's events are checked, not the messages' seqs).
  const db = new pg.Client({ connectionString: services.databaseUrl });
  await db.connect();
  const { rows } = await db.query<{ channel_id: string; n: string }>(
    'SELECT channel_id, count(*) AS n FROM messages WHERE channel_id = ANY($1) GROUP BY channel_id', [channels]);
  const streams = await db.query<{ stream: string; n: string; hi: string; head: string }>(
    `SELECT e.stream, count(*) AS n, max(e.seq) AS hi, s.head_seq AS head FROM events e JOIN streams s ON s.id = e.stream
     WHERE e.stream = ANY($1) GROUP BY e.stream, s.head_seq`, [channels]);
  const orphans = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM messages m WHERE m.channel_id = ANY($1)
     AND NOT EXISTS (SELECT 1 FROM events e WHERE e.stream = m.channel_id AND e.seq = m.seq AND e.type = 'message')`, [channels]);
  await db.end();
  const persisted = rows.reduce((sum, r) => sum + Number(r.n), 0);
  const gaps = streams.rows.filter((r) => Number(r.n) !== Number(r.hi) || Number(r.hi) !== Number(r.head)).length + Number(orphans.rows[0]?.n ?? 0);
  const acknowledged = [...cells.entries()].filter(([key]) => key.startsWith('Sesame |')).reduce((sum, [, cell]) => sum + cell.runs.reduce((s, r) => s + r.ok, 0), 0);
  // The warm-up's and the one-sender cells' sends are persisted too (not counted above): counted apart.
  const check = `${int(persisted)} Sesame messages persisted (${int(acknowledged)} acknowledged in the measured 16-sender runs, the rest in the warm-up and the one-sender cells); channel streams with a seq gap or a message without its event: ${gaps}`;
  console.log(check);

  const cellOf = (key: string) => cells.get(key)!;
  const rate = (cell: Cell) => median(cell.runs.map((r) => r.perSecond));
  const fmtCpu = (usage: Array<Record<string, number>>) => {
    const labels = Object.keys(usage[0]).filter((l) => l !== 'others');
    return labels.map((l) => `${l} ${(median(usage.map((u) => u[l])) * 100).toFixed(0)}%`).join(', ');
  };
  const row = (key: string, ref: { echo: string; naive?: string | null }) => {
    const cell = cellOf(key);
    const r = rate(cell);
    const ratios = ` | ${(r / rate(cellOf(ref.echo))).toFixed(2)}×${ref.naive === undefined ? '' : ` | ${ref.naive ? `${(r / rate(cellOf(ref.naive))).toFixed(2)}×` : '—'}`}`;
    const errors = cell.runs.reduce((s, x) => s + x.non2xx + x.errors, 0);
    return `| ${key} | **${int(r)}** (${cell.runs.map((x) => int(x.perSecond)).join(' / ')})${ratios} | ${median(cell.runs.map((x) => x.p50))} | ${median(cell.runs.map((x) => x.p99))} | ${errors} | ${int(median(cell.cpuPerOp))} | ${fmtCpu(cell.cpu)} |`;
  };
  const lines: string[] = [];
  for (const shape of Object.keys(shapes)) {
    for (const name of Object.keys(systems)) lines.push(row(`${name} | ${shape}`, { echo: `bare Fastify echo | ${shape}`, naive: name === 'bare Fastify echo' ? null : `naive durable (Fastify + pg) | ${shape}` }));
  }
  const getLines = Object.keys(gets).map((name) => row(name, { echo: 'bare Fastify GET' }));
  const editLines = Object.keys(edits).map((name) => row(name, { echo: 'bare Fastify echo PATCH' }));
  const ms = (values: number[]) => median(values).toFixed(2);
  const pacedLines = Object.keys(systems).map((name) => {
    const cell = pacedCells.get(name)!;
    return `| ${name} | **${ms(cell.runs.map((r) => r.p50))}** | ${ms(cell.runs.map((r) => r.p99))} | ${ms(cell.runs.map((r) => r.mean))} | ${cell.runs.reduce((n, r) => n + r.failed, 0)} | ${int(median(cell.serverUs))} | ${int(median(cell.postgresUs))} |`;
  });

  writeSection('writes', `
## Writes (messages persisted through REST, 16 concurrent senders)

Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback; PostgreSQL and Redis from \`scripts/dev/test-services.sh\` (fsync off); the load client (autocannon, ${CONNECTIONS} connections, one request in flight each, ${CONTENT.length}-byte content) runs in its own process.

Sesame = separate api and gateway processes (the gateway idle), the admin's API key POSTing \`{content, kind}\` to \`/channels/:id/messages\`. Peers on the same Fastify 5: the *naive durable* write (one transaction per message on a pg pool of 10: row-locked seq, message row, event row, commit; no auth, no publish) on the same PostgreSQL, and a *bare Fastify echo* (the HTTP ceiling). Warm-up 2 s per system, then ${ROUNDS} interleaved rounds of ${SECONDS} s per cell (order rotated per round); the figure is the median round (all rounds in brackets), latencies (ms, per request) the median round's. CPU: 100% = one core, median round.

| system | shape | msg/s (rounds) | × echo | × naive | p50 | p99 | errors | server CPU µs/msg | CPU |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${lines.join('\n')}

| request | req/s (rounds) | × bare GET | p50 | p99 | errors | server CPU µs/req | CPU |
| --- | --- | --- | --- | --- | --- | --- | --- |
${getLines.join('\n')}

| streaming edits (\`PATCH … {content, streaming: true}\`, 16 messages) | edits/s (rounds) | × echo PATCH | p50 | p99 | errors | server CPU µs/edit | CPU |
| --- | --- | --- | --- | --- | --- | --- | --- |
${editLines.join('\n')}

| one sender alone, ${PACED_RATE} sends/s, one channel (${PACED_COUNT} per round, one at a time on one kept-alive connection) | p50 ms | p99 ms | mean ms | errors | server CPU µs/msg | postgres CPU µs/msg |
| --- | --- | --- | --- | --- | --- | --- |
${pacedLines.join('\n')}

The one-sender rows measure a quiet server: every send finds the server, Postgres (and for Sesame Redis and the gateway) idle, so its latency is the path's length, and its CPU per request includes what waking each process costs on this machine (far above the CPU per request under load, where processes stay awake). CPU is read in 10 ms ticks, so these CPU figures move in steps of ${int(10_000 / PACED_COUNT)} µs per request; the Postgres column includes its background work (the echo, which never queries it, shows what that is). Each latency figure is the median of the rounds' own percentiles.

Check: ${check}.
`);
}

void runBench(main);
