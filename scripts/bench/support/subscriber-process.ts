/**
 * Subscriber connections (child process) to Sesame, Socket.IO or `ws`: for the fan-out bench it
 * stamps the receive time of every bench message and tells the parent when a message has reached
 * all of its connections (the sender's closed loop waits on that); the idle-memory bench just
 * holds connections here.
 *
 * Bench message content: `b:<phase>:<index>:<send time, ns on the monotonic clock>:<padding>`.
 */
import type { Socket } from 'socket.io-client';
import type WebSocket from 'ws';
import { notify, serve } from './child.js';
import { connectSesame, connectSocketIo, connectWs, frameDecoding, mapLimit, type SesameFrame, type SystemKind } from './clients.js';
import { Histogram, nowNs } from './stats.js';

interface PhaseStats { hist: Histogram; delivered: number; firstRecvNs: bigint; lastRecvNs: bigint }
/** Per-connection view of the Sesame channel stream: enough to prove exactly-once, in order. */
interface SeqTrack { first: number; last: number; received: number; duplicates: number; gaps: number }

const MAX_MESSAGES = 1 << 20;
const counts = new Uint16Array(MAX_MESSAGES);
const phases = new Map<string, PhaseStats>();
const tracks: SeqTrack[] = [];
const sockets: Array<WebSocket | Socket> = [];
let connected = 0;
/** Wire size of the last bench message frame (what the server sends per delivery). */
let frameBytes = 0;
/** Sesame only: frames other than bench messages, by type (presence, pong, …). */
const otherFrames: Partial<Record<string, number>> = {};
/** Sesame only: when the last presence frame arrived here (monotonic ns; 0 = none yet). */
let lastPresenceNs = 0n;
let unexpectedCloses = 0;
let closing = false;
/** BENCH_HOPS: when each message reached its first connection here (monotonic ns), by index. */
const firstRecv = process.env.BENCH_HOPS ? new Map<number, bigint>() : undefined;
/** BENCH_HOPS: when each message had reached every connection here (monotonic ns), by index. */
const lastRecv = process.env.BENCH_HOPS ? new Map<number, bigint>() : undefined;

function receive(content: string): void {
  const now = nowNs();
  const parts = content.split(':', 4);
  if (parts[0] !== 'b') return;
  const phase = parts[1];
  const index = Number(parts[2]);
  let stats = phases.get(phase);
  if (!stats) phases.set(phase, (stats = { hist: new Histogram(), delivered: 0, firstRecvNs: now, lastRecvNs: now }));
  stats.hist.add(Number(now - BigInt(parts[3])) / 1000);
  stats.delivered++;
  stats.lastRecvNs = now;
  if (firstRecv && counts[index] === 0) firstRecv.set(index, now);
  if (++counts[index] === connected) {
    lastRecv?.set(index, now);
    notify({ ev: 'done', index });
  }
}

function track(t: SeqTrack, seq: number): void {
  if (t.received === 0) t.first = seq;
  else if (seq <= t.last) t.duplicates++;
  else if (seq !== t.last + 1) t.gaps++;
  t.last = Math.max(t.last, seq);
  t.received++;
}

function onClose(): void {
  if (!closing) unexpectedCloses++;
}

serve({
  async connect(m) {
    const { kind, url, keys, count, concurrency } = m as unknown as { kind: SystemKind; url: string; keys?: string[]; count: number; concurrency: number };
    await mapLimit(Array.from({ length: count }, (_, i) => i), concurrency, async (i) => {
      if (kind === 'sesame') {
        const t: SeqTrack = { first: -1, last: -1, received: 0, duplicates: 0, gaps: 0 };
        tracks.push(t);
        const { ws } = await connectSesame(url, keys![i % keys!.length], (frame: SesameFrame, frameSize: number) => {
          if (frame.type !== 'message') {
            otherFrames[frame.type] = (otherFrames[frame.type] ?? 0) + 1;
            if (frame.type === 'presence' || frame.type === 'presence_batch') lastPresenceNs = nowNs();
            return;
          }
          frameBytes = frameSize;
          track(t, frame.seq!);
          receive((frame.message as { content: string }).content);
        });
        ws.on('close', onClose);
        sockets.push(ws);
      } else if (kind === 'socketio') {
        const socket = await connectSocketIo(url);
        socket.on('message', (content: string) => {
          frameBytes = Buffer.byteLength(`42${JSON.stringify(['message', content])}`); // engine.io + socket.io packet
          receive(content);
        });
        socket.on('disconnect', onClose);
        sockets.push(socket);
      } else {
        const ws = await connectWs(url);
        ws.on('message', (data: Buffer) => {
          frameBytes = data.length;
          const started = performance.now();
          const content = data.toString();
          frameDecoding.ms += performance.now() - started;
          frameDecoding.frames++;
          receive(content);
        });
        ws.on('close', onClose);
        sockets.push(ws);
      }
    });
    connected = sockets.length;
    return { connected };
  },

  report() {
    return {
      connected,
      unexpectedCloses,
      frameBytes,
      decoding: frameDecoding,
      otherFrames,
      lastPresenceNs: String(lastPresenceNs),
      phases: Object.fromEntries([...phases].map(([name, s]) => [name, {
        hist: s.hist.toJSON(), delivered: s.delivered, firstRecvNs: String(s.firstRecvNs), lastRecvNs: String(s.lastRecvNs),
      }])),
      tracks,
      ...(firstRecv ? { firstRecvNs: [...firstRecv].map(([index, ns]) => [index, String(ns)]) } : {}),
      ...(lastRecv ? { lastRecvNs: [...lastRecv].map(([index, ns]) => [index, String(ns)]) } : {}),
    };
  },

  close() {
    closing = true;
    for (const socket of sockets) {
      if ('disconnect' in socket) socket.disconnect();
      else socket.terminate();
    }
    return null;
  },
});
