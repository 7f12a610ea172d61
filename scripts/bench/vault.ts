/**
 * Vault: `useSecret` calls per second on one active lease (each call authenticates the key,
 * checks the lease against the clock, decrypts the item's fields, counts the use and appends an
 * audit entry, answering once it is committed), with the API's and PostgreSQL's CPU per use, against, in the same run and with the same HTTP client, a bare
 * Fastify route answering the same JSON (the HTTP ceiling here) and raw AES-256-GCM decrypts
 * of the same fields in-process (the crypto ceiling). Then approve→use latency: from the
 * approver's `approve` call to the requester holding the fields.
 *
 *   npx tsx scripts/bench/vault.ts      (or: npm run bench -- vault)
 *   BENCH_CPU_PROF=<dir>                the api runs with --cpu-prof, profile written into <dir>
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { generateMasterKey, Keyring, openItem, sealItem } from '../../vault/src/index.js';
import { runBench, sleep } from './support/lifecycle.js';
import { spawnBenchProcess } from './support/child.js';
import { startSesame } from './support/sesame.js';
import { CpuMeter, int, median, processTree } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const COMMAND = 'npx tsx scripts/bench/vault.ts';
const CONCURRENCY = 16;
/** `BENCH_SECONDS` shortens the cells for a quick directional run on a busy machine. */
const WARMUP_MS = process.env.BENCH_SECONDS ? 500 : 1500;
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 8) * 1000;
const APPROVALS = 40;
const FIELDS = { username: 'bench-user', password: 'bench-password-0123456789abcdef', url: 'postgres://db.bench.internal:5432/app' };

interface Load { perSecond: number; p50: number; p99: number; errors: number; calls: number; cpu: Record<string, number> }

/**
 * `CONCURRENCY` loops calling `once` for `DURATION_MS` (after a warm-up); calls/s, latency (ms),
 * and the CPU seconds `meter`'s processes used during the measured part (load-robust, unlike rates).
 */
async function load(once: () => Promise<boolean>, meter: CpuMeter): Promise<Load> {
  const run = async (ms: number, latencies: number[] | null) => {
    let calls = 0;
    let errors = 0;
    const deadline = performance.now() + ms;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        if (await once()) calls++; else errors++;
        latencies?.push(performance.now() - started);
      }
    }));
    return { calls, errors };
  };
  await run(WARMUP_MS, null);
  const latencies: number[] = [];
  const started = performance.now();
  meter.start();
  const { calls, errors } = await run(DURATION_MS, latencies);
  const cpu = meter.stopSeconds();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: calls / seconds, p50: median(latencies), p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN, errors, calls, cpu };
}

async function post(url: string, key: string, body?: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
}

/** Raw AES-256-GCM opens of the same three fields under one key, in this process: the crypto ceiling. */
function rawDecrypts(): { perSecond: number; envelopePerSecond: number } {
  const key = randomBytes(32);
  const sealed = Object.values(FIELDS).map((value) => {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    return { nonce, ct: Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]), tag: cipher.getAuthTag() };
  });
  const openAll = () => {
    for (const s of sealed) {
      const decipher = createDecipheriv('aes-256-gcm', key, s.nonce);
      decipher.setAuthTag(s.tag);
      Buffer.concat([decipher.update(s.ct), decipher.final()]);
    }
  };
  const keyring = new Keyring({ 1: generateMasterKey() });
  const ref = { vaultId: 'vlt_bench', itemId: 'vit_bench' };
  const item = sealItem(keyring, ref, FIELDS);
  const measure = (fn: () => void) => {
    for (let i = 0; i < 1000; i++) fn();
    let ops = 0;
    const started = performance.now();
    while (performance.now() - started < 2000) { fn(); ops++; }
    return ops / ((performance.now() - started) / 1000);
  };
  return { perSecond: measure(openAll), envelopePerSecond: measure(() => openItem(keyring, ref, item)) };
}

void runBench(async () => {
  console.log('starting PostgreSQL + Redis, Sesame (api + gateway), and a bare Fastify server');
  const services = startTestServices();
  const profDir = process.env.BENCH_CPU_PROF;
  const sesame = await startSesame(services, { env: { SESAME_VAULT_KEY: generateMasterKey() }, apiNodeArgs: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] });
  const bare = spawnBenchProcess('support/bare-fastify-server.ts', 'bare fastify');
  const barePort = Number((await bare.waitForOutput(/LISTENING (\d+)/))[1]);

  const admin = sesame.rest;
  const agent = await admin.createAgent('vault-bench-agent');
  const { data: vault } = await admin.call<{ data: { id: string } }>('POST', '/vaults', { name: 'bench', maxLeaseTtlSeconds: 86_400 });
  await admin.call('POST', `/vaults/${vault.id}/members`, { principalId: agent.id, role: 'requester' });
  const { data: item } = await admin.call<{ data: { id: string } }>('POST', `/vaults/${vault.id}/items`, { title: 'bench db', type: 'login', fields: FIELDS });
  const requester = admin.as(agent.apiKey);
  const requestLease = async () => (await requester.call<{ data: { id: string } }>('POST', '/vaults/leases', { itemId: item.id, reason: 'bench', ttlSeconds: 86_400 })).data.id;
  const lease = await requestLease();
  await admin.call('POST', `/vaults/leases/${lease}/approve`, {});

  const useUrl = `${sesame.apiUrl}/vaults/leases/${lease}/use`;
  const check = await (await post(useUrl, agent.apiKey)).json() as { data: { fields: Record<string, string> } };
  if (check.data.fields.password !== FIELDS.password) throw new Error('useSecret did not return the fields');

  console.log(`useSecret, ${CONCURRENCY} concurrent callers, ${DURATION_MS / 1000} s`);
  const useMeter = new CpuMeter({ api: () => [sesame.api.pid], postgres: () => processTree(services.postgresPid) });
  const useSecret = await load(async () => { const r = await post(useUrl, agent.apiKey); await r.arrayBuffer(); return r.ok; }, useMeter);
  const perUse = (label: string) => (useSecret.cpu[label] ?? NaN) / useSecret.calls * 1e6;
  console.log(`  ${int(useSecret.perSecond)}/s, p50 ${useSecret.p50.toFixed(2)} ms, p99 ${useSecret.p99.toFixed(2)} ms, errors ${useSecret.errors}`);
  console.log(`  CPU per use: api ${int(perUse('api'))} µs, postgres ${int(perUse('postgres'))} µs`);
  await sleep(500);
  console.log('bare Fastify route, same client and concurrency');
  const bareUrl = `http://127.0.0.1:${barePort}/use`;
  const bareLoad = await load(async () => { const r = await post(bareUrl, agent.apiKey); await r.arrayBuffer(); return r.ok; }, new CpuMeter({ bare: () => [bare.pid] }));
  const perBare = bareLoad.cpu.bare / bareLoad.calls * 1e6;
  console.log(`  ${int(bareLoad.perSecond)}/s, p50 ${bareLoad.p50.toFixed(2)} ms, p99 ${bareLoad.p99.toFixed(2)} ms; CPU per call ${int(perBare)} µs`);
  console.log('raw AES-256-GCM decrypts of the same three fields (and the vault envelope open), in-process');
  const raw = rawDecrypts();
  console.log(`  raw ${int(raw.perSecond)} items/s, envelope ${int(raw.envelopePerSecond)} items/s`);

  console.log(`approve → use latency, ${APPROVALS} leases one after the other`);
  const approveToUse: number[] = [];
  for (let i = 0; i < APPROVALS; i++) {
    const id = await requestLease();
    const started = performance.now();
    await admin.call('POST', `/vaults/leases/${id}/approve`, {});
    const res = await post(`${sesame.apiUrl}/vaults/leases/${id}/use`, agent.apiKey);
    if (!res.ok) throw new Error(`use after approve: ${res.status}`);
    await res.arrayBuffer();
    approveToUse.push(performance.now() - started);
  }
  approveToUse.sort((a, b) => a - b);
  const p95 = approveToUse[Math.floor(approveToUse.length * 0.95)];
  console.log(`  median ${median(approveToUse).toFixed(2)} ms, p95 ${p95.toFixed(2)} ms`);

  const ratio = useSecret.perSecond / bareLoad.perSecond;
  // A shared machine shows in every row; the load average says how shared it was.
  const load1 = loadavg()[0].toFixed(1);
  const table = [
    '## Vault `useSecret`',
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Sesame api and gateway as separate processes on PostgreSQL + Redis (loopback); the bare Fastify server in its own process; one client process (\`fetch\`, ${CONCURRENCY} concurrent callers, ${DURATION_MS / 1000} s after a ${WARMUP_MS / 1000} s warm-up). Load average at the end of the run: ${load1}.`,
    '',
    '| what | calls/s | p50 | p99 |',
    '| --- | --- | --- | --- |',
    `| \`useSecret\` on one active lease (auth, lease + TTL check and use counted in one statement, decrypt 3 fields, audit entry committed) | ${int(useSecret.perSecond)} | ${useSecret.p50.toFixed(2)} ms | ${useSecret.p99.toFixed(2)} ms |`,
    `| bare Fastify route returning the same JSON (the HTTP ceiling) | ${int(bareLoad.perSecond)} | ${bareLoad.p50.toFixed(2)} ms | ${bareLoad.p99.toFixed(2)} ms |`,
    `| raw AES-256-GCM decrypts of the same 3 fields, in-process (items/s) | ${int(raw.perSecond)} | | |`,
    `| the vault envelope's \`openItem\` of the same item, in-process (unwrap + 3 decrypts) | ${int(raw.envelopePerSecond)} | | |`,
    '',
    `\`useSecret\` runs at **${ratio.toFixed(2)}×** the bare route's rate (goal ≥ 0.4×). Decryption is not the cost: the envelope opens ${int(raw.envelopePerSecond)} items/s in one core. CPU per use: api ${int(perUse('api'))} µs, PostgreSQL ${int(perUse('postgres'))} µs (the bare route: ${int(perBare)} µs). Concurrent uses of one lease are claimed together — one UPDATE checks the lease against the clock, counts them and returns the sealed item, opened once — and their audit entries go through the audit group commit: concurrent appends of a workspace share one \`audit_append\` statement (chain lock, head read, chained inserts); each caller is answered after that commit.`,
    '',
    `Approve → use (the approver's \`approveLease\` call, then the requester's \`useSecret\`, sequential, ${APPROVALS} leases): median ${median(approveToUse).toFixed(2)} ms, p95 ${p95.toFixed(2)} ms.`,
  ].join('\n');
  writeSection('vault', table);
  console.log('\nwritten to docs/benchmarks.md');
});
