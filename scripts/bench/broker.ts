/**
 * Credential broker overhead: `POST /api/v1/broker/request` (policy, lease check, secret opened
 * and counted, credential attached, SSRF-checked outbound request, audit) against calling the
 * same local upstream directly, in the same run, on the embedded default (`sesame-server start`:
 * PGlite, in-process bus).
 *
 *   npx tsx scripts/bench/broker.ts      (or: npm run bench -- broker)
 *   BENCH_CPU_PROF=<dir>                 the server runs with --cpu-prof, profile written into <dir>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repoRoot, spawnNode } from './support/child.js';
import { onCleanup, runBench } from './support/lifecycle.js';
import { CpuMeter, Histogram, int } from './support/stats.js';
import { machineFacts, writeSection } from './write-results.js';

/** `BENCH_SEQUENTIAL` and `BENCH_SECONDS` shorten the cells for a quick directional run on a busy machine. */
const WARMUP = 200;
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
const CONCURRENCY = 16;
const THROUGHPUT_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;

async function json(url: string, key: string, method: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok && res.status !== 202) throw new Error(`${method} ${url}: ${String(res.status)} ${text}`);
  return (JSON.parse(text) as { data: unknown }).data;
}

async function latency(call: () => Promise<void>): Promise<Histogram> {
  for (let i = 0; i < WARMUP; i++) await call();
  const histogram = new Histogram();
  for (let i = 0; i < SEQUENTIAL; i++) {
    const start = process.hrtime.bigint();
    await call();
    histogram.add(Number(process.hrtime.bigint() - start) / 1000);
  }
  return histogram;
}

async function throughput(call: () => Promise<void>): Promise<number> {
  let done = 0;
  const deadline = Date.now() + THROUGHPUT_MS;
  const start = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < deadline) { await call(); done++; }
  }));
  return done / ((Date.now() - start) / 1000);
}

void runBench(async () => {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end('{"ok":true,"items":[1,2,3]}'); });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  onCleanup('upstream', () => new Promise<void>((resolve) => { upstream.close(() => { resolve(); }); }));
  const upstreamHost = `127.0.0.1:${String((upstream.address() as AddressInfo).port)}`;

  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-bench-broker-'));
  onCleanup('data dir', () => { rmSync(dataDir, { recursive: true, force: true }); });
  const adminKey = `sk_bench${randomBytes(18).toString('base64url')}`;
  const profDir = process.env.BENCH_CPU_PROF;
  const server = spawnNode([...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), '--enable-source-maps', 'bin/sesame-server.mjs', 'start'], {
    cwd: `${repoRoot}services`, label: 'sesame start',
    env: {
      HOST: '127.0.0.1', PORT: '0', GATEWAY_PORT: '0', LOG_LEVEL: 'warn', NODE_ENV: 'production', SESAME_DATA_DIR: dataDir,
      SESAME_BOOTSTRAP_API_KEY: adminKey, SESAME_RATE_LIMIT_PER_MINUTE: '100000000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000000',
      SESAME_OUTBOUND_ALLOW: '127.0.0.1',
    },
  });
  onCleanup('sesame', () => server.stop());
  const api = (await server.waitForOutput(/API:\s+(http:\/\/\S+\/api\/v1)/))[1];

  // A secret bound to the upstream, an agent in its vault, and an approved lease.
  const vault = await json(`${api}/vaults`, adminKey, 'POST', { name: 'bench' }) as { id: string };
  await json(`${api}/vaults/${vault.id}/items`, adminKey, 'POST', { title: 'upstream', type: 'api_key', hostname: upstreamHost, fields: { token: 'bench-token-123456' } });
  const { agent, apiKey } = await json(`${api}/agents`, adminKey, 'POST', { handle: 'bench-agent' }) as { agent: { id: string }; apiKey: string };
  await json(`${api}/vaults/${vault.id}/members`, adminKey, 'POST', { principalId: agent.id, role: 'requester' });
  const pending = await json(`${api}/broker/request`, apiKey, 'POST', { method: 'GET', url: `http://${upstreamHost}/v1/items`, waitForApproval: false }) as { leaseId: string };
  await json(`${api}/vaults/leases/${pending.leaseId}/approve`, adminKey, 'POST', { ttlSeconds: 3600 });

  const direct = async () => {
    const res = await fetch(`http://${upstreamHost}/v1/items`, { headers: { authorization: 'Bearer bench-token-123456' } });
    await res.text();
  };
  const brokered = async () => {
    const res = await json(`${api}/broker/request`, apiKey, 'POST', { method: 'GET', url: `http://${upstreamHost}/v1/items` }) as { status_code: number };
    if (res.status_code !== 200) throw new Error(`brokered status ${String(res.status_code)}`);
  };

  const directLatency = await latency(direct);
  // The server's CPU per brokered request (load-robust, unlike latency): measured over the sequential run.
  const meter = new CpuMeter({ server: () => [server.pid] });
  meter.start();
  const brokerLatency = await latency(brokered);
  const serverCpuUs = meter.stopSeconds().server / (WARMUP + SEQUENTIAL) * 1e6;
  const directRate = await throughput(direct);
  const brokerRate = await throughput(brokered);
  console.log(`server CPU per brokered request: ${int(serverCpuUs)} µs`);

  const ms = (us: number) => (us / 1000).toFixed(2);
  const row = (name: string, h: Histogram, rate: number) => `| ${name} | ${ms(h.percentile(50))} | ${ms(h.percentile(90))} | ${ms(h.percentile(99))} | ${rate.toFixed(0)} |`;
  const rows = [row('upstream directly (peer)', directLatency, directRate), row('through `POST /broker/request`', brokerLatency, brokerRate)];
  rows.forEach((r) => { console.log(r); });
  const added = brokerLatency.percentile(50) - directLatency.percentile(50);
  const section = [
    '## Credential broker (`POST /broker/request`)',
    '',
    `Machine: ${machineFacts()}. Command: \`npm run bench -- broker\`. Embedded default (\`sesame-server start\`: PGlite, in-process bus), a local upstream answering a 27-byte JSON body, an approved lease.`,
    '',
    `Latency: ${String(SEQUENTIAL)} sequential requests after ${String(WARMUP)} warm-up ones. Throughput: ${String(CONCURRENCY)} concurrent callers for ${String(THROUGHPUT_MS / 1000)} s.`,
    '',
    '| path | p50 ms | p90 ms | p99 ms | requests/s |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Added at p50: ${ms(added)} ms (goal: under 2 ms). Server CPU per brokered request: ${int(serverCpuUs)} µs. Each brokered request runs the API's auth and validation, finds the item by hostname with the caller's active lease (one statement; on this embedded default remembered for at most 1 s per caller and host, forgotten at any lease, item or membership change, the lease's expiry checked at every use), checks the policy, opens the secret, resolves and checks the upstream's addresses and sends over a kept-alive connection pooled by those checked addresses, scrubs the answer and commits a \`broker.request\` audit row (one \`audit_append\` statement, shared by concurrent requests) before answering: one statement per request in this run, each a statement prepared once and executed in one call into PGlite.`,
  ].join('\n');
  writeSection('broker', section);
  console.log(`\nadded at p50: ${ms(added)} ms\nwritten to docs/benchmarks.md`);
});
