/**
 * Realtime replay: a client offline while 10,000 messages are sent reconnects with its cursor;
 * time from sending `auth` to having received all 10,000. Peers in the same run: the same
 * 10,000 events read through REST pages (`GET /streams/:stream/events`, 1,000 a page), and
 * Socket.IO 4 connection-state recovery of 10,000 missed broadcasts.
 *
 *   npx tsx scripts/bench/realtime-replay.ts      (or: npm run bench -- realtime-replay)
 */
import type { Socket } from 'socket.io-client';
import { io } from 'socket.io-client';
import { connectSesame, connectSocketIo, mapLimit } from './support/clients.js';
import { runBench, sleep, waitUntil } from './support/lifecycle.js';
import { startSocketIoServer, type PeerServer } from './support/peers.js';
import { startSesame, type SesameServers } from './support/sesame.js';
import { CpuMeter, formatCpu, int, median, processTree } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const MESSAGES = 10_000;
const RUNS = Number(process.env.BENCH_ROUNDS ?? 3);
const SEND_CONCURRENCY = 16;
const PAGE = 1000;
const CONTENT_BYTES = 100;
const COMMAND = 'npx tsx scripts/bench/realtime-replay.ts';

const content = (i: number) => `replay:${i}:`.padEnd(CONTENT_BYTES, 'x');
const cpuMs = (usage: Record<string, number>) => Object.entries(usage).filter(([label]) => label !== 'others').map(([label, s]) => `${label} ${(s * 1000).toFixed(0)} ms`).join(', ');

interface Timing { seconds: number; detail: string }

/** Sesame WebSocket resume: auth with cursors, then every missed event, then `replayed`. */
async function sesameResume(sesame: SesameServers, apiKey: string, cursors: Record<string, number>, channelId: string): Promise<Timing> {
  const from = cursors[channelId];
  let authSentAt = 0;
  let authenticatedAt = 0;
  let lastAt = 0;
  let replayedAt = 0;
  let received = 0;
  let expected = from + 1;
  let disorder = 0;
  const { ws } = await connectSesame(sesame.gatewayUrl, apiKey, (frame) => {
    if (frame.type === 'replayed' && frame.stream === channelId) replayedAt = performance.now();
    if (frame.type !== 'message' || frame.stream !== channelId) return;
    if (frame.seq !== expected) disorder++;
    expected = frame.seq! + 1;
    if (++received === MESSAGES) lastAt = performance.now();
  }, { cursors, onAuthSent: () => { authSentAt = performance.now(); } });
  authenticatedAt = performance.now();
  await waitUntil(() => received >= MESSAGES && replayedAt > 0, 120_000, () => `received ${received} of ${MESSAGES}`, 1);
  await sleep(200); // anything extra (duplicates) would arrive now
  ws.terminate();
  if (received !== MESSAGES || disorder) throw new Error(`Sesame replay: ${received} received (expected ${MESSAGES}), ${disorder} out of order or duplicated`);
  const seconds = (lastAt - authSentAt) / 1000;
  return { seconds, detail: `\`authenticated\` after ${(authenticatedAt - authSentAt).toFixed(0)} ms, last event after ${(seconds * 1000).toFixed(0)} ms, \`replayed\` after ${(replayedAt - authSentAt).toFixed(0)} ms` };
}

/** REST: the same events in pages of 1,000, one request after the other. */
async function restPages(sesame: SesameServers, apiKey: string, channelId: string, from: number): Promise<Timing> {
  const rest = sesame.rest.as(apiKey);
  const started = performance.now();
  let after = from;
  let received = 0;
  let pages = 0;
  for (;;) {
    const page = await rest.events(channelId, after, PAGE);
    pages++;
    for (const event of page.data) {
      if (event.seq !== after + 1) throw new Error(`REST page out of order at ${event.seq} (after ${after})`);
      after = event.seq;
      if (event.type === 'message') received++;
    }
    if (!page.pagination.hasMore) break;
  }
  const seconds = (performance.now() - started) / 1000;
  if (received !== MESSAGES) throw new Error(`REST: ${received} of ${MESSAGES}`);
  return { seconds, detail: `${pages} requests` };
}

interface RecoverySession { pid: string; offset: string }

/** Socket.IO: a new socket presenting the saved session id and offset, as the client does on reconnect. */
async function socketIoRecover(server: PeerServer, session: RecoverySession): Promise<Timing> {
  const socket: Socket = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false, autoConnect: false });
  Object.assign(socket, { _pid: session.pid, _lastOffset: session.offset });
  let received = 0;
  let lastAt = 0;
  let disorder = 0;
  socket.on('message', (text: string) => {
    if (!text.startsWith('replay:')) return;
    if (Number(text.split(':')[1]) !== received) disorder++;
    if (++received === MESSAGES) lastAt = performance.now();
  });
  const started = performance.now();
  socket.connect();
  await waitUntil(() => received >= MESSAGES, 120_000, () => `received ${received} of ${MESSAGES}`, 1);
  await sleep(200);
  const recovered = socket.recovered;
  socket.io.engine.close(); // a transport close: the server keeps the session for the next run
  if (!recovered || received !== MESSAGES || disorder) throw new Error(`Socket.IO recovery: recovered=${recovered}, ${received} of ${MESSAGES}, ${disorder} out of order`);
  const seconds = (lastAt - started) / 1000;
  return { seconds, detail: '' };
}

void runBench(async () => {
  const services = startTestServices();

  // ---- Sesame: the client goes offline at the channel's head; 10,000 messages are persisted.
  const sesame = await startSesame(services);
  const [client] = await sesame.rest.createAgents('replay-client', 1);
  const channel = await sesame.rest.createGroup('replay', [client.id]);
  const first = await connectSesame(sesame.gatewayUrl, client.apiKey, () => {});
  const cursors = first.authenticated.heads as Record<string, number>;
  first.ws.close();
  console.log(`[Sesame] client offline at ${JSON.stringify(cursors)}; sending ${int(MESSAGES)} messages via REST (${SEND_CONCURRENCY} concurrent)…`);
  const sendCpu = new CpuMeter({ api: () => [sesame.api.pid], postgres: () => processTree(services.postgresPid), redis: () => [services.redisPid], 'bench (sender)': () => [process.pid] });
  const sendStarted = performance.now();
  sendCpu.start();
  await mapLimit(Array.from({ length: MESSAGES }, (_, i) => i), SEND_CONCURRENCY, (i) => sesame.rest.sendMessage(channel.id, content(i)));
  const sendSeconds = (performance.now() - sendStarted) / 1000;
  const sendUsage = formatCpu(sendCpu.stop());
  console.log(`[Sesame] persisted in ${sendSeconds.toFixed(1)} s (${int(MESSAGES / sendSeconds)} messages/s); CPU (100% = one core): ${sendUsage}`);

  // ---- Socket.IO: the same story with connection-state recovery.
  const socketIo = await startSocketIoServer({ recovery: true, label: 'socket.io (recovery)' });
  const sender = await connectSocketIo(socketIo.url, { role: 'sender' });
  const member = await connectSocketIo(socketIo.url);
  let marker = false;
  member.on('message', () => { marker = true; });
  await sender.emitWithAck('send', 'marker'); // gives the member an offset to resume from
  await waitUntil(() => marker, 10_000, () => 'marker not received');
  const session = { pid: (member as unknown as { _pid: string })._pid, offset: (member as unknown as { _lastOffset: string })._lastOffset };
  if (!session.pid || !session.offset) throw new Error('Socket.IO did not hand out a recovery session');
  member.io.engine.close();
  await sleep(300);
  for (let i = 0; i < MESSAGES; i++) sender.emit('send', content(i));
  await sender.emitWithAck('send', 'end'); // packets are handled in order: all 10,000 were broadcast
  sender.disconnect();

  // CPU of the processes involved, per run (ms): where the time goes.
  const postgres = () => processTree(services.postgresPid);
  const bench = () => [process.pid];
  const meters = {
    ws: new CpuMeter({ gateway: () => [sesame.gateway.pid], postgres, client: bench }),
    rest: new CpuMeter({ api: () => [sesame.api.pid], postgres, client: bench }),
    sio: new CpuMeter({ server: () => [socketIo.child.pid], client: bench }),
  };
  const timings: Record<'ws' | 'rest' | 'sio', Timing[]> = { ws: [], rest: [], sio: [] };
  const cpu: Record<'ws' | 'rest' | 'sio', Array<Record<string, number>>> = { ws: [], rest: [], sio: [] };
  const cold: Record<'ws' | 'rest' | 'sio', Timing | undefined> = { ws: undefined, rest: undefined, sio: undefined };
  const timed = async (key: 'ws' | 'rest' | 'sio', fn: () => Promise<Timing>, warmUp: boolean) => {
    if (warmUp) {
      cold[key] = await fn();
      return;
    }
    meters[key].start();
    timings[key].push(await fn());
    cpu[key].push(meters[key].stopSeconds());
  };
  // Run 0 warms up (JIT, connection pools); its time is reported apart as the cold figure.
  for (let run = 0; run <= RUNS; run++) {
    const warmUp = run === 0;
    await timed('ws', () => sesameResume(sesame, client.apiKey, cursors, channel.id), warmUp);
    await timed('rest', () => restPages(sesame, client.apiKey, channel.id, cursors[channel.id]), warmUp);
    await timed('sio', () => socketIoRecover(socketIo, session), warmUp);
    if (warmUp) {
      console.log(`warm-up (cold) run: Sesame WebSocket ${cold.ws!.seconds.toFixed(3)} s; REST ${cold.rest!.seconds.toFixed(3)} s; Socket.IO ${cold.sio!.seconds.toFixed(3)} s`);
      continue;
    }
    console.log(`run ${run}: Sesame WebSocket ${timings.ws.at(-1)!.seconds.toFixed(3)} s (${timings.ws.at(-1)!.detail}; CPU ${cpuMs(cpu.ws.at(-1)!)}); ` +
      `REST ${timings.rest.at(-1)!.seconds.toFixed(3)} s (CPU ${cpuMs(cpu.rest.at(-1)!)}); Socket.IO ${timings.sio.at(-1)!.seconds.toFixed(3)} s (CPU ${cpuMs(cpu.sio.at(-1)!)})`);
  }

  const row = (name: string, key: 'ws' | 'rest' | 'sio', what: string) => {
    const list = timings[key];
    const seconds = median(list.map((t) => t.seconds));
    const labels = Object.keys(cpu[key][0]).filter((label) => label !== 'others');
    const medianCpu = Object.fromEntries(labels.map((label) => [label, median(cpu[key].map((c) => c[label]))]));
    return `| ${name} | **${int(MESSAGES / seconds)}** | ${(seconds * 1000).toFixed(0)} ms | ${list.map((t) => (t.seconds * 1000).toFixed(0)).join(' / ')} ms | ${(cold[key]!.seconds * 1000).toFixed(0)} ms | ${cpuMs(medianCpu)} | ${what} |`;
  };
  const markdown = [
    `## Realtime replay (${int(MESSAGES)} missed messages)`,
    '',
    `Machine: ${machineFacts()}. Command: \`${COMMAND}\`. Everything on loopback; PostgreSQL and Redis from \`scripts/dev/test-services.sh\` (fsync off); the client runs in the bench process.`,
    '',
    `A client (an agent, member of one group channel) connects, notes its cursors from \`authenticated.heads\` and disconnects; ${int(MESSAGES)} messages of ${CONTENT_BYTES} bytes are then sent to the channel through REST (${SEND_CONCURRENCY} requests at a time: ${sendSeconds.toFixed(1)} s, **${int(MESSAGES / sendSeconds)} messages/s** persisted to one channel; CPU meanwhile, 100% = one core: ${sendUsage}). The client then reconnects with its cursors; timed from sending \`auth\` (WebSocket already open) to the last of the ${int(MESSAGES)} events received, checked exactly once and in order (every method). One warm-up run (JIT, pools; shown as *first (cold) run*), then ${RUNS} runs from the same cursor, interleaved with the peers; events/s from the median run. CPU per run is that of the processes involved (the client is the bench process).`,
    '',
    '| what | events/s | median | runs | first (cold) run | CPU per run (median) | measured |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('Sesame WebSocket resume (`auth` with `cursors`)', 'ws', `gateway reads PostgreSQL in batches of 1,000 (\`SESAME_REPLAY_BATCH_SIZE\`), paced by the send buffer; ${timings.ws.at(-1)!.detail} (last run)`),
    row(`Sesame REST pages (\`GET /streams/:id/events?after=&limit=${PAGE}\`)`, 'rest', `the same events, ${timings.rest.at(-1)!.detail} one after the other through the api with the client's own key`),
    row('Socket.IO connection-state recovery', 'sio', `Socket.IO 4.8, one node, **in-memory** adapter (the Redis adapter does not implement recovery): the ${int(MESSAGES)} missed broadcasts are kept in the server's memory; timed from \`connect()\` (includes the WebSocket handshake)`),
    '',
    'The peers differ in what they promise: Sesame replays from PostgreSQL (durable, any cursor within retention, across gateway nodes and restarts); Socket.IO recovery holds the missed packets in one server process for `maxDisconnectionDuration` (lost on restart, not shared across nodes).',
  ].join('\n');
  writeSection('realtime-replay', markdown);
  console.log('\nwritten to docs/benchmarks.md');
});
