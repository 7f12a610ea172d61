/**
 * Webhook delivery: deliveries per second from a worker process to a local receiver on real
 * PostgreSQL, and the event-to-delivery latency at 200 events/s, beside the floor of a plain
 * signed POST loop (same signing, same outbound client, same concurrency) to the same receiver,
 * in the same run.
 *
 *   npm run bench -- webhooks
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { createDatabase } from '../../services/src/shared/db/database.js';
import { createLogger } from '../../services/src/shared/logger.js';
import { outboundAllowList, sendOutbound } from '../../services/src/shared/outbound/index.js';
import { signatureHeaders } from '../../services/src/shared/webhooks/signing.js';
import { onCleanup, runBench } from './support/lifecycle.js';
import { startSesame, startSesameWorker } from './support/sesame.js';
import { Histogram, int, ms } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const THROUGHPUT_DELIVERIES = 3000;
const RATE_PER_SECOND = 200;
const RATE_SECONDS = 10;
/** SESAME_WEBHOOK_CONCURRENCY_PER_ENDPOINT's default: the floor loop keeps as many POSTs in flight. */
const CONCURRENCY = 8;
const MAX_OUTSTANDING = 32;
const ENV = { SESAME_OUTBOUND_ALLOW: '127.0.0.1' };

void runBench(async () => {
  // The receiver: answers 204 at once, records when each webhook-id first arrived.
  const arrivals = new Map<string, { at: number; eventAt: number }>();
  let waiting: { count: number; resolve: () => void } | undefined;
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (!arrivals.has(id)) arrivals.set(id, { at: Date.now(), eventAt: Date.parse((JSON.parse(body) as { timestamp: string }).timestamp) });
      res.writeHead(204).end();
      if (waiting && arrivals.size >= waiting.count) waiting.resolve();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  onCleanup('stop the receiver', () => new Promise<void>((resolve) => receiver.close(() => { resolve(); })));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const arrived = (count: number) => new Promise<void>((resolve) => {
    if (arrivals.size >= count) resolve();
    else waiting = { count, resolve };
  });

  const services = startTestServices();
  const sesame = await startSesame(services, { env: ENV });
  await startSesameWorker(services, sesame, ENV);
  const db = createDatabase({ databaseUrl: services.databaseUrl, poolSize: 4, logger: createLogger('silent', 'bench') });
  onCleanup('close the bench database pool', () => db.destroy());

  const agent = await sesame.rest.createAgent('hooks');
  const rest = sesame.rest.as(agent.apiKey);
  const channel = await rest.createGroup('hooks', []);
  const { data: { webhook } } = await rest.call<{ data: { webhook: { id: string } } }>('POST', '/webhooks', { url, eventTypes: ['message'] });
  const { workspace_id: workspaceId } = await db.selectFrom('principals').select('workspace_id').where('id', '=', agent.id).executeTakeFirstOrThrow();

  // 1. The floor: signed POSTs through the same outbound client, CONCURRENCY at a time.
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const allow = outboundAllowList(ENV);
  const body = JSON.stringify({ id: 'msg_floor', type: 'message', timestamp: new Date().toISOString(), data: { content: 'x'.repeat(200) } });
  let sent = 0;
  const floorStart = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (sent < THROUGHPUT_DELIVERIES) {
      const id = `msg_floor_${sent++}`;
      await sendOutbound({ method: 'POST', url, headers: { 'content-type': 'application/json', ...signatureHeaders([secret], id, Math.floor(Date.now() / 1000), body) }, body }, allow);
    }
  }));
  const floorPerSecond = THROUGHPUT_DELIVERIES / ((performance.now() - floorStart) / 1000);
  console.log(`floor: ${floorPerSecond.toFixed(0)} signed POSTs/s`);

  // 2. Deliveries/s: THROUGHPUT_DELIVERIES due at once; the worker claims, signs, sends and records each.
  arrivals.clear();
  const now = new Date();
  const rows = Array.from({ length: THROUGHPUT_DELIVERIES }, (_, i) => {
    const messageId = `msg_bench_${i}`;
    return {
      id: `whd_bench_${i}`, webhook_id: webhook.id, workspace_id: workspaceId, message_id: messageId, event_stream: null, event_seq: null,
      event_type: 'webhook.test', event_at: now, status: 'pending' as const, next_attempt_at: now, lease_until: null, last_status_code: null,
      created_at: now, updated_at: now, body: JSON.stringify({ id: messageId, type: 'webhook.test', timestamp: now.toISOString(), data: { content: 'x'.repeat(200) } }),
    };
  });
  const deliveryStart = performance.now();
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('webhook_deliveries').values(rows.slice(i, i + 500)).execute();
  await arrived(THROUGHPUT_DELIVERIES);
  const deliveriesPerSecond = THROUGHPUT_DELIVERIES / ((performance.now() - deliveryStart) / 1000);
  console.log(`worker: ${deliveriesPerSecond.toFixed(0)} deliveries/s (${(deliveriesPerSecond / floorPerSecond).toFixed(2)}× the floor)`);

  // 3. Event → delivery latency: messages posted at RATE_PER_SECOND, each fanned out from the events table.
  arrivals.clear();
  const total = RATE_PER_SECOND * RATE_SECONDS;
  const posts = new Set<Promise<unknown>>();
  const paceStart = performance.now();
  for (let i = 0; i < total; i++) {
    const due = paceStart + (i * 1000) / RATE_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // At most MAX_OUTSTANDING posts open: if the api falls behind, the achieved rate says so.
    while (posts.size >= MAX_OUTSTANDING) await Promise.race(posts);
    const post = rest.sendMessage(channel.id, `event ${i}`).finally(() => { posts.delete(post); });
    posts.add(post);
  }
  await Promise.all(posts);
  const achievedRate = total / ((performance.now() - paceStart) / 1000);
  await arrived(total);
  const latency = new Histogram();
  for (const { at, eventAt } of arrivals.values()) latency.add((at - eventAt) * 1000);
  const p50 = latency.percentile(50);
  const p99 = latency.percentile(99);
  console.log(`latency at ${achievedRate.toFixed(0)} events/s: p50 ${ms(p50)} ms, p99 ${ms(p99)} ms`);

  writeSection('webhooks', [
    '## Webhook delivery (`services/src/shared/webhooks/`)',
    '',
    `Machine: ${machineFacts()}. Command: \`npm run bench -- webhooks\`. PostgreSQL and Redis on loopback; separate api, gateway and worker processes (the worker at its defaults: ${CONCURRENCY} in flight per endpoint, 200 ms poll); the receiver (answers 204 at once) and the floor loop run in the bench process.`,
    '',
    '| measure | result |',
    '| --- | --- |',
    `| floor: plain signed POST loop (same signing, same outbound client, ${CONCURRENCY} in flight) | ${int(Math.round(floorPerSecond))} POSTs/s |`,
    `| worker: ${int(THROUGHPUT_DELIVERIES)} deliveries due at once, to one endpoint | ${int(Math.round(deliveriesPerSecond))} deliveries/s (${(deliveriesPerSecond / floorPerSecond).toFixed(2)}× the floor; goal ≥ 0.5×) |`,
    `| event → delivery latency, ${int(total)} messages offered at ${RATE_PER_SECOND}/s over REST, achieved ${achievedRate.toFixed(0)}/s | p50 ${ms(p50)} ms, p99 ${ms(p99)} ms (goal p99 < 1 s) |`,
    '',
    `Load average during the run: ${loadavg().map((l) => l.toFixed(1)).join(', ')}.${achievedRate < RATE_PER_SECOND * 0.9 ? ` The api could not take ${RATE_PER_SECOND} messages/s here (at most ${MAX_OUTSTANDING} posts open at once), so the latency is measured at the rate it sustained.` : ''}`,
    '',
    'A worker delivery is a claim (one statement locking the endpoint row with `FOR UPDATE SKIP LOCKED`, counting its in-flight deliveries and leasing due ones, returning the live secrets and whether the owner may see the event), the POST, and one statement recording a success (a failure takes a transaction: retry, failure counts, perhaps disabling). A finished attempt claims again at once. The latency adds the fan-out from the events table, which the worker polls every 200 ms (`SESAME_WEBHOOK_POLL_INTERVAL_MS`).',
  ].join('\n'));
  console.log('\nwritten to docs/benchmarks.md');
});
