/**
 * Tasks: claim throughput under contention, and task-stream events/s appended and delivered to
 * 100 SSE readers, each beside the message path measured in the same run on the same servers
 * (separate api and gateway processes on PostgreSQL + Redis):
 *
 * - claims: 100 tasks, 20 agents racing for each (every task claimed by exactly one; 19 get
 *   409), 100 requests in flight — beside the same number of `POST …/messages` at the same
 *   concurrency;
 * - stream: 500 run events appended to one task (4 in flight) while 100 readers hold
 *   `GET /tasks/:id/stream` — beside 500 messages sent to a group of 100 WebSocket members.
 *
 *   npx tsx scripts/bench/tasks.ts      (or: npm run bench -- tasks)
 */
import { loadavg } from 'node:os';
import WebSocket from 'ws';
import { connectSesame, mapLimit } from './support/clients.js';
import { runBench, waitUntil } from './support/lifecycle.js';
import { startSesame, type SesameRest } from './support/sesame.js';
import { int } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const TASKS = 100;
const CLAIMERS = 20;
const IN_FLIGHT = 100;
const READERS = 100;
const EVENTS = 500;
const APPEND_CONCURRENCY = 4;
const COMMAND = 'npx tsx scripts/bench/tasks.ts';

interface Rate { seconds: number; perSecond: number }
const rate = (count: number, started: number): Rate => {
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perSecond: count / seconds };
};

/** Every task raced by all claimers at once; exactly one winner per task or the bench fails. */
async function claimRace(rest: SesameRest, claimers: SesameRest[], channelId: string): Promise<Rate> {
  const tasks = await mapLimit(Array.from({ length: TASKS }, (_, i) => i), 16, async (i) =>
    (await rest.call<{ data: { id: string } }>('POST', `/channels/${channelId}/tasks`, { title: `race ${i}` })).data.id);
  const started = performance.now();
  const winners = await mapLimit(tasks, IN_FLIGHT / CLAIMERS, async (taskId) => {
    const codes = await Promise.all(claimers.map(async (claimer) => {
      const response = await fetch(`${claimer.apiUrl}/channels/${channelId}/tasks/${taskId}/claim`, { method: 'POST', headers: { authorization: `Bearer ${claimer.key}` } });
      await response.arrayBuffer();
      return response.status;
    }));
    if (codes.filter((c) => c === 200).length !== 1 || codes.filter((c) => c === 409).length !== CLAIMERS - 1) throw new Error(`task ${taskId}: ${codes.join(',')}`);
    return 1;
  });
  return rate(winners.length * CLAIMERS, started);
}

/** The same number of requests, at the same concurrency, on the message path. */
async function messageSends(senders: SesameRest[], channelId: string): Promise<Rate> {
  const jobs = Array.from({ length: TASKS * CLAIMERS }, (_, i) => i);
  const started = performance.now();
  await mapLimit(jobs, IN_FLIGHT, async (i) => { await senders[i % senders.length].sendMessage(channelId, `claim-peer ${i}`); });
  return rate(jobs.length, started);
}

/** Reads one task stream, counting run events (the last seq seen) until `end`. */
async function openReader(apiUrl: string, key: string, taskId: string, seen: number[], index: number): Promise<{ done: Promise<void> }> {
  const response = await fetch(`${apiUrl}/tasks/${taskId}/stream`, { headers: { authorization: `Bearer ${key}` } });
  if (!response.ok || !response.body) throw new Error(`stream: ${response.status}`);
  const body = response.body;
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (\d+)$/m.exec(block);
        if (id) {
          const seq = Number(id[1]);
          if (seq !== seen[index] + 1) throw new Error(`reader ${index}: seq ${seq} after ${seen[index]}`);
          seen[index] = seq;
        }
      }
    }
  })();
  return { done };
}

async function taskStream(rest: SesameRest, apiUrl: string, readerKeys: string[], channelId: string): Promise<{ append: Rate; delivered: Rate }> {
  const taskId = (await rest.call<{ data: { id: string } }>('POST', `/channels/${channelId}/tasks`, { title: 'streamed' })).data.id;
  const seen = readerKeys.map(() => -1);
  const readers = await Promise.all(readerKeys.map((key, i) => openReader(apiUrl, key, taskId, seen, i)));
  // A first event every reader has received: all subscriptions are live before timing starts.
  await rest.call('POST', `/tasks/${taskId}/events`, { kind: 'status', status: 'warming', progress: 0 });
  await waitUntil(() => seen.every((s) => s >= 0), 60_000, () => `${seen.filter((s) => s >= 0).length} of ${READERS} readers warmed`);
  const started = performance.now();
  await mapLimit(Array.from({ length: EVENTS }, (_, i) => i), APPEND_CONCURRENCY, async (i) => {
    await rest.call('POST', `/tasks/${taskId}/events`, { kind: 'log', logType: 'info', logMessage: `line ${i}` });
  });
  const append = rate(EVENTS, started);
  await waitUntil(() => seen.every((s) => s >= EVENTS), 120_000, () => `slowest reader at ${Math.min(...seen)} of ${EVENTS}`, 2);
  const delivered = rate(EVENTS * READERS, started);
  await rest.call('PATCH', `/channels/${channelId}/tasks/${taskId}`, { status: 'in_progress' });
  await rest.call('POST', `/tasks/${taskId}/events`, { kind: 'done', status: 'completed' });
  await Promise.all(readers.map((r) => r.done));
  return { append, delivered };
}

/** The message path: the same number of messages to a group whose 100 members hold WebSockets. */
async function messageFanout(rest: SesameRest, gatewayUrl: string, memberKeys: string[], channelId: string): Promise<{ append: Rate; delivered: Rate }> {
  const received = memberKeys.map(() => 0);
  const sockets: WebSocket[] = [];
  for (const [i, key] of memberKeys.entries()) {
    const { ws } = await connectSesame(gatewayUrl, key, (frame) => { if (frame.type === 'message' && frame.stream === channelId) received[i]++; });
    sockets.push(ws);
  }
  const started = performance.now();
  await mapLimit(Array.from({ length: EVENTS }, (_, i) => i), APPEND_CONCURRENCY, async (i) => { await rest.sendMessage(channelId, `fanout ${i}`); });
  const append = rate(EVENTS, started);
  await waitUntil(() => received.every((n) => n >= EVENTS), 120_000, () => `slowest member at ${Math.min(...received)} of ${EVENTS}`, 2);
  const delivered = rate(EVENTS * memberKeys.length, started);
  for (const ws of sockets) ws.terminate();
  return { append, delivered };
}

void runBench(async () => {
  const services = startTestServices();
  const sesame = await startSesame(services);
  const { rest } = sesame;
  console.log('creating agents…');
  const agents = await rest.createAgents('bench-task', Math.max(CLAIMERS, READERS));
  const memberIds = agents.map((a) => a.id);
  const channel = (await rest.call<{ data: { id: string } }>('POST', '/channels', { kind: 'collaboration', name: 'bench-tasks', memberIds })).data.id;
  const group = await rest.createGroup('bench-messages', memberIds);
  const clients = agents.map((a) => rest.as(a.apiKey));

  console.log(`claims: ${TASKS} tasks × ${CLAIMERS} racing claimers…`);
  const claims = await claimRace(rest, clients.slice(0, CLAIMERS), channel);
  console.log(`  ${int(claims.perSecond)} claim requests/s (${claims.seconds.toFixed(2)} s)`);
  const sends = await messageSends(clients.slice(0, CLAIMERS), group.id);
  console.log(`  message path: ${int(sends.perSecond)} sends/s (${sends.seconds.toFixed(2)} s)`);

  console.log(`stream: ${EVENTS} events to ${READERS} SSE readers…`);
  const stream = await taskStream(rest, sesame.apiUrl, agents.slice(0, READERS).map((a) => a.apiKey), channel);
  console.log(`  appended ${int(stream.append.perSecond)}/s, delivered ${int(stream.delivered.perSecond)} events/s`);
  const fanout = await messageFanout(rest, sesame.gatewayUrl, agents.slice(0, READERS).map((a) => a.apiKey), group.id);
  console.log(`  message path: sent ${int(fanout.append.perSecond)}/s, delivered ${int(fanout.delivered.perSecond)} events/s`);

  writeSection('tasks', `
## Tasks: claims under contention, task streams to 100 SSE readers

\`${COMMAND}\` — ${machineFacts()}, load average ${loadavg()[0].toFixed(1)} when it ended (the
machine is shared: compare the columns, not the absolute figures). Separate api and gateway
processes on PostgreSQL + Redis (throwaway, loopback), the bench client in a third process.

| workload | tasks | message path (same run) |
| --- | --- | --- |
| ${TASKS} tasks × ${CLAIMERS} agents racing \`claimTask\` (${IN_FLIGHT} requests in flight; each task exactly one \`200\`, ${CLAIMERS - 1} × \`409\`) | ${int(claims.perSecond)} claim requests/s (${claims.seconds.toFixed(2)} s) | ${int(sends.perSecond)} \`sendMessage\`/s for the same ${int(TASKS * CLAIMERS)} requests (${sends.seconds.toFixed(2)} s) |
| ${EVENTS} events appended (${APPEND_CONCURRENCY} in flight) | ${int(stream.append.perSecond)} \`appendTaskEvent\`/s | ${int(fanout.append.perSecond)} \`sendMessage\`/s |
| …delivered to ${READERS} readers (SSE \`/tasks/:id/stream\` vs WebSocket members of a group) | ${int(stream.delivered.perSecond)} events/s (last reader done after ${stream.delivered.seconds.toFixed(2)} s) | ${int(fanout.delivered.perSecond)} events/s (${fanout.delivered.seconds.toFixed(2)} s) |

Task-stream readers are served by the api process (the stream follows the bus topic
\`task-run:<taskId>\`); the message path by the gateway. Every reader checked that it got every
seq in order.
`);
});
