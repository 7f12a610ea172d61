/**
 * Bench clients for the three systems, as thin as possible (raw `ws` for Sesame, the official
 * client for Socket.IO) so what is measured is the server, not a client library.
 */
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';

export type SystemKind = 'sesame' | 'socketio' | 'ws';

/**
 * Sesame closes a client silent for 2× the 30 s heartbeat: each connection pings every
 * `PING_EVERY_MS`. One timer for all of them, pinging a slice of the connections per step, so
 * the pings are spread over the interval as a fleet's are (clients connect at different times)
 * rather than all in one burst, which would stall the gateway for a moment every 20 s.
 */
const PING_EVERY_MS = 20_000;
const PING_STEPS = 100;
const pinged: WebSocket[] = [];
let pingTimer: NodeJS.Timeout | undefined;
let pingStep = 0;
function keepAlive(ws: WebSocket): void {
  pinged.push(ws);
  ws.once('close', () => { pinged.splice(pinged.indexOf(ws), 1); });
  pingTimer ??= setInterval(() => {
    const step = pingStep++ % PING_STEPS;
    for (let i = step; i < pinged.length; i += PING_STEPS) {
      const socket = pinged[i];
      if (socket.readyState === WebSocket.OPEN) socket.send('{"type":"ping"}');
    }
  }, PING_EVERY_MS / PING_STEPS).unref();
}

/**
 * The subscriber's own cost of turning a delivered frame into a value (time and count, once
 * authenticated): part of the latency a fan-out bench measures, on the client side.
 */
export const frameDecoding = { frames: 0, ms: 0 };

export interface SesameFrame { type: string; stream?: string; seq?: number; heads?: Record<string, number>; [key: string]: unknown }

export interface SesameConnection {
  ws: WebSocket;
  authenticated: SesameFrame;
}

/**
 * Opens a gateway connection and authenticates. `onFrame` gets every frame after
 * `authenticated` (parsed). `onAuthSent` is called the moment the auth frame is written.
 */
export function connectSesame(
  url: string,
  apiKey: string,
  onFrame: (frame: SesameFrame, bytes: number) => void,
  options: { cursors?: Record<string, number>; onAuthSent?: () => void } = {},
): Promise<SesameConnection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let authenticated: SesameFrame | undefined;
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'auth', apiKey, ...(options.cursors ? { cursors: options.cursors } : {}) }));
      options.onAuthSent?.();
    });
    ws.on('message', (data: Buffer) => {
      const started = performance.now();
      const frame = JSON.parse(data.toString()) as SesameFrame;
      if (authenticated) {
        frameDecoding.ms += performance.now() - started;
        frameDecoding.frames++;
        onFrame(frame, data.length);
        return;
      }
      if (frame.type === 'authenticated') {
        authenticated = frame;
        keepAlive(ws);
        resolve({ ws, authenticated });
      } else if (frame.type === 'error') {
        reject(new Error(`auth failed: ${JSON.stringify(frame)}`));
      }
    });
    ws.on('error', (err) => { if (!authenticated) reject(err); });
    ws.on('close', (code, reason) => { if (!authenticated) reject(new Error(`closed before auth: ${code} ${reason.toString()}`)); });
  });
}

export function connectSocketIo(url: string, auth: Record<string, unknown> = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // forceNew: one engine.io connection per socket (the default multiplexes them over one).
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
    socket.once('connect', () => { resolve(socket); });
    socket.once('connect_error', reject);
  });
}

export function connectWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => { resolve(ws); });
    ws.once('error', reject);
  });
}

/** Runs `fn` over `items` with at most `limit` at a time, keeping results in order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }));
  return results;
}
