import {
  AUTH_TIMEOUT_MS, CloseCode, MAX_PRESENCE_SUBSCRIPTIONS,
  type ErrorFrame, type PongFrame,
} from '@sesamespace/sdk/protocol';
import type { RawData, WebSocket } from 'ws';
import { parseClientFrame, type ParsedClientFrame } from './client-frames.js';
import type { ConnectionRegistry } from './connection-registry.js';
import { authenticateRealtime, type RealtimeIdentity } from './realtime-auth.js';
import { RealtimeSession, type SessionDeps, type Sink } from './session.js';
import { deliveringBurst, releaseWhenListenerDone } from './stream-hub.js';
import { allocTextPayload, wsTextFrame } from './websocket-frames.js';

// Frames a client may send: a burst of this many, refilled at FRAME_RATE_PER_SECOND.
const FRAME_BURST = 100;
const FRAME_RATE_PER_SECOND = 20;

const TEXT = { binary: false } as const;

/**
 * The number of the current synchronous run ("tick"): it moves on when the process's next-tick
 * queue is next processed. A connection that already wrote a frame in this tick corks its socket
 * for the rest of it (see `sink`). One `process.nextTick` per tick for the whole process.
 */
let tick = 0;
let tickScheduled = false;
const nextTick = () => { tickScheduled = false; tick++; };
function currentTick(): number {
  if (!tickScheduled) {
    tickScheduled = true;
    process.nextTick(nextTick);
  }
  return tick;
}

/** The parts of `ws`'s sender that say a frame written straight to the socket keeps its place. */
interface WsInternals {
  _socket?: { cork(): void; uncork(): void; write(chunk: Buffer): boolean };
  _sender?: { _state?: number; _firstFragment?: boolean };
}

/**
 * One WebSocket client: the auth handshake, frame dispatch, heartbeat bookkeeping and the close
 * codes of `@sesamespace/sdk/protocol`. Streams and replay live in `RealtimeSession`.
 */
/** A text frame's payload as ws hands it over (one Buffer, or fragments). */
function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString();
  return Buffer.isBuffer(data) ? data.toString() : Buffer.from(data).toString();
}

export class WebSocketConnection {
  session: RealtimeSession | undefined;
  identity: RealtimeIdentity | undefined;
  lastSeenAt = Date.now();
  lastValidatedAt = Date.now();
  private state: 'awaiting-auth' | 'authenticating' | 'open' | 'closed' = 'awaiting-auth';
  /** Ends this connection's part in the node's handshakes under way (set only while authenticating). */
  private endHandshake: (() => void) | undefined;
  /** Frames that arrived while authenticating (created only then). */
  private queued: string[] | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private tokens = FRAME_BURST;
  private tokensAt = Date.now();
  meta: { runtime?: string; version?: string } | undefined;

  constructor(private readonly socket: WebSocket, private readonly deps: SessionDeps, private readonly registry: ConnectionRegistry) {
    // The deadline covers the whole handshake, not only the auth frame's arrival: a handshake
    // whose reads never answer (a database connection lost mid-statement) closes the socket too.
    this.authTimer = setTimeout(() => {
      this.fail(CloseCode.AuthTimeout, this.state === 'authenticating' ? 'the handshake did not complete in time' : 'no auth frame received in time');
    }, AUTH_TIMEOUT_MS);
    socket.on('message', (data, isBinary) => { this.onMessage(isBinary ? null : textOf(data)); });
    socket.on('close', () => { this.onClose(); });
    socket.on('error', () => { /* 'close' follows */ });
    registry.add(this);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  private onMessage(raw: string | null): void {
    this.lastSeenAt = Date.now();
    if (this.state === 'closed') return;
    if (!this.takeToken()) { this.close(CloseCode.RateLimited, 'too many frames'); return; }
    if (raw === null) { this.fail(CloseCode.InvalidFrame, 'binary frames are not part of the protocol'); return; }
    if (this.state === 'authenticating') {
      (this.queued ??= []).push(raw);
      return;
    }
    if (this.state === 'awaiting-auth') return void this.authenticate(raw);
    this.dispatch(raw);
  }

  private async authenticate(raw: string): Promise<void> {
    const parsed = parseClientFrame(raw);
    if ('error' in parsed || parsed.frame.type !== 'auth') {
      this.fail(CloseCode.AuthFailed, 'error' in parsed ? parsed.error : 'the first frame must be {"type":"auth", …}'); return;
    }
    this.state = 'authenticating';
    const frame = parsed.frame;
    // Presence ticks due meanwhile wait for the node's handshakes (see `PresenceFanout.handshakeBegan`);
    // ended once, when the connection opens, fails or closes (a handshake whose reads never answer included).
    const fanout = this.deps.presenceFanout;
    fanout.handshakeBegan();
    const handshakeEnded = () => {
      if (this.endHandshake !== handshakeEnded) return;
      this.endHandshake = undefined;
      fanout.handshakeEnded();
    };
    this.endHandshake = handshakeEnded;
    try {
      const identity = await authenticateRealtime(this.deps.ctx, frame, this.deps.startup);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by another method while we awaited (TypeScript keeps the narrowing, TS#9998)
      if (this.state !== 'authenticating') return; // closed meanwhile
      if (!identity) { this.fail(CloseCode.AuthFailed, 'the API key, token or signature is invalid, expired or revoked', 'unauthorized'); return; }
      this.identity = identity;
      this.registry.authenticated(this);
      const sink = this.sink();
      const session = new RealtimeSession(identity.principal, sink, this.deps);
      this.session = session;
      const { starts, begin } = await session.open(frame.cursors, identity.memberships, identity.heads);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by another method while we awaited (TypeScript keeps the narrowing, TS#9998)
      if (this.state !== 'authenticating') { session.close(); return; }
      // Through the sink as bytes: the whole frame in one write (ws writes a string's header and payload apart).
      const json = JSON.stringify(session.authenticatedFrame(starts));
      // Encoded straight into its frame, header in front: the write takes it as it is.
      const payload = allocTextPayload(Buffer.byteLength(json));
      payload.write(json);
      sink.send(payload, { type: 'authenticated' });
      this.state = 'open';
      handshakeEnded();
      this.stopAuthTimer();
      this.lastValidatedAt = Date.now();
      // Delivery starts before the frames that arrived during the handshake are handled: a
      // `replay` sent right after `auth` (what existing clients do) rewinds started streams.
      const begun = begin();
      const queued = this.queued ?? [];
      this.queued = undefined;
      for (const frame of queued) this.dispatch(frame);
      await begun;
    } catch (err) {
      this.deps.ctx.logger.error({ err }, 'realtime handshake failed');
      this.fail(CloseCode.InternalError, 'internal error during the handshake');
    } finally {
      handshakeEnded();
    }
  }

  private dispatch(raw: string): void {
    const parsed = parseClientFrame(raw);
    if ('error' in parsed) {
      if (parsed.unknown) { this.sendError(parsed.error, 'unknown-frame'); return; }
      this.fail(CloseCode.InvalidFrame, parsed.error, 'invalid-frame'); return;
    }
    const session = this.session;
    if (!session) return; // frames are dispatched only once the handshake made a session
    const frame: ParsedClientFrame = parsed.frame;
    switch (frame.type) {
      case 'ping': {
        const pong: PongFrame = { type: 'pong', heads: session.heads() };
        this.socket.send(JSON.stringify(pong));
        return;
      }
      case 'typing':
        void session.typing(frame.channelId).then((ok) => { if (!ok) this.sendError('typing: you are not a member of that channel', 'forbidden'); });
        return;
      case 'replay':
        void session.replay(frame.cursors).catch((err: unknown) => { this.deps.ctx.logger.warn({ err, session: session.id }, 'replay request failed'); });
        return;
      case 'presence':
        session.setPresence(frame.status);
        return;
      case 'presence_subscribe':
        if (!session.subscribePresence(frame.principalIds)) this.sendError(`presence_subscribe: at most ${MAX_PRESENCE_SUBSCRIPTIONS} principals per connection`, 'bad-request');
        return;
      case 'presence_unsubscribe':
        session.unsubscribePresence(frame.principalIds);
        return;
      case 'meta':
        this.meta = { runtime: frame.runtime, version: frame.version };
        return;
      case 'auth':
        { this.sendError('already authenticated', 'bad-request'); return; }
    }
  }

  private sink(): Sink {
    const socket = this.socket;
    // The TCP socket under ws. A connection's first frame of a tick is written at once (one
    // write, no waiting for the rest of a fan-out loop to finish); the frames that follow it in
    // the same tick (a replay batch) are corked and leave together in one writev instead of one
    // each, and so are all the frames of a burst of bus messages (several parsed from one Redis
    // read), the first included: per-frame syscalls are most of a gateway's CPU at high fan-out.
    const internals = socket as unknown as WsInternals;
    const tcp = internals._socket;
    const sender = internals._sender;
    // Pre-framed buffers go straight to the TCP socket only while `ws` itself would write at
    // once: no extension (compression) negotiated, its sender idle (not compressing or reading a
    // Blob: state 0) and not inside a fragmented message. Otherwise `ws` frames and orders them.
    const plain = socket.extensions === '';
    const direct = () => plain && sender?._state === 0 && sender._firstFragment === true;
    let corked = false;
    let wroteInTick = -1;
    const uncork = () => { corked = false; tcp?.uncork(); };
    return {
      // Text frames always; a shared Buffer is sent as-is, without re-encoding per connection.
      send: (frame) => {
        if (socket.readyState !== socket.OPEN) return;
        if (tcp && !corked) {
          const now = currentTick();
          if (wroteInTick === now || deliveringBurst()) {
            corked = true;
            tcp.cork();
            // In a burst, released once this connection has all of it (see `deliverHeard`).
            if (!releaseWhenListenerDone(uncork)) process.nextTick(uncork);
          }
          wroteInTick = now;
        }
        if (tcp && typeof frame !== 'string' && direct()) tcp.write(wsTextFrame(frame));
        else socket.send(frame, TEXT);
      },
      bufferedAmount: () => socket.bufferedAmount,
      close: (code, reason) => { this.close(code, reason); },
    };
  }

  private sendError(error: string, code?: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    const frame: ErrorFrame = { type: 'error', error, ...(code ? { code } : {}) };
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends an error frame, then closes with `code`. */
  fail(code: number, error: string, errorCode?: string): void {
    this.sendError(error, errorCode);
    this.close(code, error);
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopAuthTimer();
    this.endHandshake?.();
    this.session?.close();
    // Close reasons are limited to 123 bytes by the protocol.
    try { this.socket.close(code, reason.slice(0, 120)); } catch { this.socket.terminate(); }
    this.registry.remove(this);
  }

  private onClose(): void {
    this.state = 'closed';
    this.stopAuthTimer();
    this.endHandshake?.();
    this.session?.close();
    this.registry.remove(this);
  }

  // Dropped once cleared: an idle connection holds no timer object.
  private stopAuthTimer(): void {
    clearTimeout(this.authTimer);
    this.authTimer = undefined;
  }

  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(FRAME_BURST, this.tokens + ((now - this.tokensAt) / 1000) * FRAME_RATE_PER_SECOND);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
