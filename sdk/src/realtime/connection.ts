import type { AuthFrameCredentials, Credentials } from '../auth.js';
import { fullJitterDelay } from '../backoff.js';
import { RealtimeAuthError, RealtimeError, SesameError } from '../errors.js';
import {
  AUTH_TIMEOUT_MS, CONNECT_PATH, CloseCode, DEFAULT_HEARTBEAT_INTERVAL_MS, MAX_PRESENCE_SUBSCRIPTIONS, closeAction, isEventFrame, toEventFrame,
  type AuthenticatedFrame, type ClientFrame, type Cursors, type EventFrame, type PresenceEventFrame, type ResyncFrame, type WireEventFrame,
} from '../protocol/index.js';
import type { CursorStore } from './cursor-store.js';
import type { RealtimeEvent, SesameClientEvents } from './event-map.js';
import { EventSequencer, type StreamEventsPage } from './event-sequencer.js';
import { Heartbeat } from './heartbeat.js';
import { openWebSocket, type RealtimeSocket, type SocketFactory } from './websocket.js';

/**
 * idle ──connect()──▶ connecting ──socket open──▶ authenticating ──authenticated──▶ open
 *                        ▲                                                          │ drop
 *                        └──────────── reconnecting (backoff) ◀─────────────────────┘
 * Any state ──disconnect(), fatal close, attempts exhausted──▶ closed (connect() starts over).
 */
export type ConnectionState = 'idle' | 'connecting' | 'authenticating' | 'open' | 'reconnecting' | 'closed';

type LifecycleEvent = 'connected' | 'disconnected' | 'reconnecting' | 'resync' | 'error';

/** Where the connection reports to (the client). */
export interface ConnectionSink {
  emit<K extends LifecycleEvent>(event: K, ...args: SesameClientEvents[K]): void;
  /** A wire event for handlers: durable ones already deduplicated and in order. */
  dispatch(event: RealtimeEvent | EventFrame): void;
}

export interface ConnectionOptions {
  /** Gateway base URLs; each reconnect attempt moves to the next. */
  urls: string[];
  credentials: Credentials;
  cursorStore: CursorStore;
  autoReconnect: boolean;
  maxReconnectAttempts: number;
  reconnectBaseDelayMs: number;
  reconnectMaxDelayMs: number;
  /** REST gap fill: events of `stream` after `after`. */
  fetchAfter(stream: string, after: number): Promise<StreamEventsPage>;
  /** Announced in the `meta` frame. */
  sdkVersion: string;
  /** Principals whose presence the client subscribed to: sent again after every (re)connect. */
  presenceSubscriptions?: () => ReadonlySet<string>;
  socketFactory?: SocketFactory;
}

// Opening the socket (DNS, TLS, upgrade) plus the gateway's own auth window.
const HANDSHAKE_TIMEOUT_MS = AUTH_TIMEOUT_MS + 5_000;
/** Locally synthesised code for a socket we dropped ourselves (no close frame was exchanged). */
const ABNORMAL_CLOSURE = 1006;

interface Deferred { promise: Promise<void>; resolve(): void; reject(err: Error): void }
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  // Failures are also emitted as `error`/`disconnected`: a caller that never awaits connect()
  // must not crash the process with an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * One logical realtime connection over successive sockets: authenticates, resumes from the
 * cursors, keeps the heartbeat, and after a drop decides — by close code — to resume, refresh
 * credentials first, or stop.
 */
export class RealtimeConnection {
  private current: ConnectionState = 'idle';
  private socket?: RealtimeSocket;
  /** Bumped whenever a socket or a pending step is abandoned, so its late callbacks are ignored. */
  private generation = 0;
  private failures = 0;
  private urlIndex = 0;
  private authRefreshUsed = false;
  private resumed = false;
  private rejection?: string;
  private handshakeTimer?: ReturnType<typeof setTimeout>;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private saveQueued = false;
  private cursorsLoaded = false;
  private presence?: 'online' | 'away';
  private pending?: Deferred;
  private readonly sequencer: EventSequencer;
  private readonly heartbeat: Heartbeat;
  private readonly socketFactory: SocketFactory;

  constructor(private readonly options: ConnectionOptions, private readonly sink: ConnectionSink) {
    this.socketFactory = options.socketFactory ?? openWebSocket;
    this.sequencer = new EventSequencer({
      deliver: (event) => { sink.dispatch(event); },
      fetchAfter: (stream, after) => options.fetchAfter(stream, after),
      historyPruned: (info) => { sink.emit('resync', info); },
      advanced: () => { this.queueSave(); },
      error: (err) => { sink.emit('error', asError(err)); },
    });
    this.heartbeat = new Heartbeat(
      () => this.socket?.send(JSON.stringify({ type: 'ping' } satisfies ClientFrame)),
      (silentForMs) => { this.abandonSocket(ABNORMAL_CLOSURE, `nothing received for ${silentForMs} ms`); },
    );
  }

  get state(): ConnectionState { return this.current; }
  get cursors(): Cursors { return this.sequencer.cursors; }

  /** Resolves once authenticated; joins an attempt already under way. */
  connect(): Promise<void> {
    if (this.current === 'open') return Promise.resolve();
    if (!this.pending) {
      this.pending = deferred();
      if (this.current === 'idle' || this.current === 'closed') {
        this.failures = 0;
        this.authRefreshUsed = false;
        void this.openSocket();
      }
    }
    return this.pending.promise;
  }

  /** Closes with 1000 and stops reconnecting; cursors are saved (and flushed) before it resolves. */
  async disconnect(): Promise<void> {
    const wasActive = this.current !== 'idle' && this.current !== 'closed';
    const socket = this.socket;
    this.stopEverything();
    if (!wasActive) return;
    this.current = 'closed';
    this.failPending(new RealtimeError({ kind: 'realtime-closed', title: 'Disconnected', detail: 'disconnect() was called before the connection was established' }));
    this.sink.emit('disconnected', { code: CloseCode.Normal, reason: 'client disconnect', willReconnect: false });
    await socket?.close(CloseCode.Normal, 'client disconnect');
    await this.saveCursors(true);
  }

  /** Sends when open; ephemeral frames sent while disconnected are dropped. */
  send(frame: ClientFrame): boolean {
    return this.current === 'open' && this.socket !== undefined && this.socket.send(JSON.stringify(frame));
  }

  /** Presence is state, not a moment: it is sent again after every reconnect. */
  setPresence(status: 'online' | 'away'): void {
    this.presence = status;
    this.send({ type: 'presence', status });
  }

  // ---- opening ----------------------------------------------------------------------------

  private async openSocket(): Promise<void> {
    const generation = ++this.generation;
    this.current = 'connecting';
    let credentials: AuthFrameCredentials;
    try {
      if (!this.cursorsLoaded) {
        this.sequencer.restore(await this.options.cursorStore.load());
        this.cursorsLoaded = true;
      }
      // Agents: a valid (refreshed if needed) access token, obtained before the gateway's auth clock starts.
      credentials = await this.options.credentials.authFrame();
    } catch (err) {
      if (generation !== this.generation) return;
      if (isPermanentAuthFailure(err)) {
        this.fail(new RealtimeAuthError({ kind: 'realtime-auth-failed', title: 'Authentication failed', detail: err.detail, closeCode: CloseCode.AuthFailed, cause: err }), CloseCode.AuthFailed, err.detail); return;
      }
      if (!this.cursorsLoaded) { this.fail(asError(err), ABNORMAL_CLOSURE, 'could not load cursors'); return; }
      return this.handleClose(ABNORMAL_CLOSURE, `could not obtain credentials: ${asError(err).message}`);
    }
    if (generation !== this.generation) return;

    const url = `${this.options.urls[this.urlIndex % this.options.urls.length].replace(/\/+$/, '')}${CONNECT_PATH}`;
    let socket: RealtimeSocket;
    try {
      socket = await this.socketFactory(url, {
        open: () => { if (generation === this.generation) this.onOpen(credentials); },
        message: (text) => { if (generation === this.generation) this.onMessage(text); },
        close: (code, reason) => { if (generation === this.generation) void this.handleClose(code, reason); },
      });
    } catch (err) {
      if (generation !== this.generation) return;
      if (err instanceof RealtimeError) { this.fail(err, ABNORMAL_CLOSURE, err.detail); return; }
      return this.handleClose(ABNORMAL_CLOSURE, asError(err).message);
    }
    if (generation !== this.generation) { socket.terminate(); return; }
    this.socket = socket;
    this.handshakeTimer = setTimeout(() => { this.abandonSocket(CloseCode.AuthTimeout, 'no authenticated frame in time'); }, HANDSHAKE_TIMEOUT_MS);
  }

  private onOpen(credentials: AuthFrameCredentials): void {
    this.current = 'authenticating';
    this.rejection = undefined;
    const cursors = this.sequencer.cursors;
    // No cursors means a fresh start: the gateway starts live from the heads instead of replaying.
    this.resumed = Object.keys(cursors).length > 0;
    this.socket?.send(JSON.stringify({ type: 'auth', ...credentials, ...(this.resumed ? { cursors } : {}) } satisfies ClientFrame));
  }

  private onAuthenticated(frame: AuthenticatedFrame): void {
    clearTimeout(this.handshakeTimer);
    this.current = 'open';
    this.failures = 0;
    this.authRefreshUsed = false;
    // Only on a fresh start: after a resume, streams without a cursor (joined while away) are
    // replayed from the join, which a cursor set to the head would discard as duplicates.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a frame off the wire: an older gateway sends no heads
    const heads = frame.heads ?? {};
    if (!this.resumed) this.sequencer.startAtHeads(heads);
    this.sequencer.resetHeads(heads);
    this.heartbeat.start(frame.heartbeatIntervalMs > 0 ? frame.heartbeatIntervalMs : DEFAULT_HEARTBEAT_INTERVAL_MS);
    this.send({ type: 'meta', runtime: '@sesamespace/sdk', version: this.options.sdkVersion });
    if (this.presence) this.send({ type: 'presence', status: this.presence });
    const subscribed = [...(this.options.presenceSubscriptions?.() ?? [])];
    for (let i = 0; i < subscribed.length; i += MAX_PRESENCE_SUBSCRIPTIONS) {
      this.send({ type: 'presence_subscribe', principalIds: subscribed.slice(i, i + MAX_PRESENCE_SUBSCRIPTIONS) });
    }
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve();
    this.sink.emit('connected', { sessionId: frame.sessionId, resumed: this.resumed, principal: frame.principal });
  }

  // ---- receiving --------------------------------------------------------------------------

  private onMessage(text: string): void {
    this.heartbeat.received();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.sink.emit('error', new RealtimeError({ kind: 'realtime-protocol', title: 'Invalid frame', detail: 'the gateway sent a frame that is not JSON' }));
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a frame off the wire; each case below checks what it reads
    const frame = parsed as { type?: unknown; [key: string]: any };
    if (typeof frame.type !== 'string') return;
    switch (frame.type) {
      case 'authenticated':
        if (this.current === 'authenticating') this.onAuthenticated(frame as AuthenticatedFrame);
        return;
      case 'error':
        { this.onErrorFrame(String(frame.error ?? 'unknown error')); return; }
      case 'pong':
      case 'heads':
        if (typeof frame.heads === 'object' && frame.heads !== null) this.sequencer.observeHeads(frame.heads as Cursors);
        return;
      case 'replayed':
        if (typeof frame.stream === 'string' && typeof frame.seq === 'number') this.sequencer.replayed(frame.stream, frame.seq);
        return;
      case 'resync':
        { this.onResync(frame as ResyncFrame); return; }
      case 'typing':
      case 'presence':
        { this.sink.dispatch(frame as RealtimeEvent); return; }
      case 'presence_batch':
        // Changes gathered over one gateway tick: one `presence` event each, in order.
        if (Array.isArray(frame.presence)) {
          for (const change of frame.presence as Array<Omit<PresenceEventFrame, 'type'>>) this.sink.dispatch({ ...change, type: 'presence' });
        }
        return;
      default:
        // Unknown frame types are ignored, so a newer gateway can add them.
        if (isEventFrame(frame as { type: string })) this.sequencer.push(toEventFrame(frame as WireEventFrame));
    }
  }

  private onErrorFrame(message: string): void {
    // During the handshake the close that follows carries the verdict; keep the reason for it.
    if (this.current === 'authenticating') {
      this.rejection = message;
      return;
    }
    this.sink.emit('error', new RealtimeError({ kind: 'realtime-protocol', title: 'Gateway error', detail: message }));
  }

  private onResync(frame: ResyncFrame): void {
    if (typeof frame.stream !== 'string' || typeof frame.oldestSeq !== 'number') return;
    const { stream, fromSeq, oldestSeq, reason } = frame;
    this.sink.emit('resync', { stream, fromSeq, oldestSeq, reason });
    this.sequencer.skipTo(stream, oldestSeq);
  }

  // ---- closing ----------------------------------------------------------------------------

  /** Gives up on a socket that will not close by itself (silent peer, stalled handshake). */
  private abandonSocket(code: number, reason: string): void {
    const socket = this.socket;
    this.generation++;
    socket?.terminate();
    void this.handleClose(code, reason);
  }

  private async handleClose(code: number, reason: string): Promise<void> {
    const wasOpen = this.current === 'open';
    this.dropSocket();
    if (this.current === 'closed') return;
    const generation = ++this.generation;
    this.current = 'reconnecting';
    switch (closeAction(code)) {
      case 'stop':
        { this.fail(new RealtimeError({ kind: 'realtime-closed', title: 'Connection closed', detail: reason || 'the gateway closed the connection', closeCode: code }), code, reason, { report: false }); return; }
      case 'fatal': {
        // An access token can be revoked or expire between authFrame() and the gateway's check;
        // one refresh tells that apart from credentials that are simply wrong (a static key).
        const refreshed = !this.authRefreshUsed && (await this.refreshCredentials());
        if (generation !== this.generation) return;
        if (refreshed) {
          this.authRefreshUsed = true;
          this.retry(code, reason, wasOpen); return;
        }
        const detail = this.rejection ?? (reason || 'the gateway rejected the credentials');
        this.fail(new RealtimeAuthError({ kind: 'realtime-auth-failed', title: 'Authentication failed', detail, closeCode: code }), code, reason); return;
      }
      case 'refresh-and-resume':
        await this.refreshCredentials();
        if (generation !== this.generation) return;
        { this.retry(code, reason, wasOpen); return; }
      case 'resume':
        { this.retry(code, reason, wasOpen); return; }
    }
  }

  private retry(code: number, reason: string, wasOpen: boolean): void {
    if (!this.options.autoReconnect) {
      this.fail(new RealtimeError({ kind: 'realtime-closed', title: 'Connection closed', detail: `closed with code ${code}${reason ? ` (${reason})` : ''} and autoReconnect is off`, closeCode: code }), code, reason, { report: false }); return;
    }
    if (this.failures >= this.options.maxReconnectAttempts) {
      const detail = `gave up after ${this.failures} consecutive failed reconnect attempts; last close ${code}${reason ? ` (${reason})` : ''}`;
      this.fail(new RealtimeError({ kind: 'realtime-gave-up', title: 'Reconnect attempts exhausted', detail, closeCode: code }), code, reason); return;
    }
    this.failures++;
    this.urlIndex++;
    const attempt = this.failures;
    const delayMs = fullJitterDelay(attempt - 1, this.options.reconnectBaseDelayMs, this.options.reconnectMaxDelayMs);
    this.current = 'reconnecting';
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.openSocket();
    }, delayMs);
    // Scheduled before telling listeners, so one calling disconnect() from here cancels it.
    if (wasOpen) this.sink.emit('disconnected', { code, reason, willReconnect: true });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a 'disconnected' listener may have called disconnect()
    if (this.current === 'reconnecting') this.sink.emit('reconnecting', { attempt, delayMs });
  }

  /** The connection is over for good (until the next connect()). */
  private fail(error: Error, code: number, reason: string, { report = true } = {}): void {
    this.stopEverything();
    this.current = 'closed';
    // Settled first, so a listener below may call connect() for a fresh attempt.
    this.failPending(error);
    if (report) this.sink.emit('error', error);
    this.sink.emit('disconnected', { code, reason, willReconnect: false });
    void this.saveCursors(true);
  }

  private failPending(error: Error): void {
    this.pending?.reject(error);
    this.pending = undefined;
  }

  private dropSocket(): void {
    this.socket = undefined;
    clearTimeout(this.handshakeTimer);
    this.heartbeat.stop();
  }

  // Leaves an open socket alone: disconnect() still wants its closing handshake.
  private stopEverything(): void {
    this.generation++;
    this.dropSocket();
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.sequencer.stop();
  }

  private async refreshCredentials(): Promise<boolean> {
    try {
      return await this.options.credentials.refreshAfterUnauthorized();
    } catch {
      // A network failure while refreshing: the next attempt's authFrame() tries again.
      return false;
    }
  }

  // ---- cursors ----------------------------------------------------------------------------

  // Coalesces a burst of deliveries into one save.
  private queueSave(): void {
    if (this.saveQueued) return;
    this.saveQueued = true;
    setTimeout(() => {
      this.saveQueued = false;
      void this.saveCursors(false);
    }, 0);
  }

  private async saveCursors(flush: boolean): Promise<void> {
    if (!this.cursorsLoaded) return; // never overwrite stored cursors with a partial view
    try {
      const saved = this.options.cursorStore.save(this.sequencer.cursors);
      if (flush) await this.options.cursorStore.flush?.();
      await saved;
    } catch (err) {
      this.sink.emit('error', asError(err));
    }
  }
}

/** A 4xx from login (wrong key, unknown handle) will not change by retrying; 408/429 will. */
function isPermanentAuthFailure(err: unknown): err is SesameError {
  return err instanceof SesameError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
