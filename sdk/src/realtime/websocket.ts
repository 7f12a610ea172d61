import { RealtimeError } from '../errors.js';
import { hostRuntime } from '../runtime.js';

/** What the connection hears from a socket. `error` events are folded into `close`'s reason. */
export interface SocketListeners {
  open(): void;
  message(text: string): void;
  close(code: number, reason: string): void;
}

/** The few socket operations the connection needs, the same over `ws` and browser WebSockets. */
export interface RealtimeSocket {
  /** Sends a text frame; false when the socket is not open (the frame is dropped). */
  send(text: string): boolean;
  /** Closing handshake; resolves once closed, terminating the socket if the peer does not answer. */
  close(code: number, reason: string): Promise<void>;
  /** Drops the socket at once, without a closing handshake (a dead peer would never answer one). */
  terminate(): void;
}

export type SocketFactory = (url: string, listeners: SocketListeners) => Promise<RealtimeSocket>;

// How long `close()` waits for the peer's close frame before giving up on it.
const CLOSE_HANDSHAKE_TIMEOUT_MS = 2_000;
const OPEN = 1;

/** The subset of the WHATWG WebSocket and of `ws` that both provide. */
interface StandardWebSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?: () => void;
  addEventListener(type: string, listener: (event: never) => void): void;
}
export type WebSocketConstructor = new (url: string) => StandardWebSocket;

/**
 * The Node build supplies the `ws` package (Node's global WebSocket only exists from Node 22, and
 * `ws` offers `terminate()`); browsers and other runtimes get `globalThis.WebSocket`. Nothing here
 * names `ws`, so browser bundles never see it.
 */
async function webSocketConstructor(): Promise<WebSocketConstructor> {
  const { loadWebSocket } = hostRuntime();
  if (loadWebSocket) return loadWebSocket();
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!global) {
    throw new RealtimeError({ kind: 'realtime-unavailable', title: 'No WebSocket', detail: 'This runtime has no WebSocket implementation; realtime needs Node 18+ or a browser' });
  }
  return global;
}

/** Opens a WebSocket to `url` (asynchronously: the implementation may have to be loaded first). */
export const openWebSocket: SocketFactory = async (url, listeners) => {
  const Impl = await webSocketConstructor();
  const socket = new Impl(url);
  let lastError = '';
  let closed = false;
  let onClosed: () => void = () => {};
  const closedPromise = new Promise<void>((resolve) => { onClosed = resolve; });

  socket.addEventListener('open', () => { listeners.open(); });
  socket.addEventListener('message', (event: { data: unknown }) => {
    // Binary frames are not part of the protocol.
    if (typeof event.data === 'string') listeners.message(event.data);
  });
  // Always listen: an unhandled `error` on a Node EventEmitter would throw. A close follows it.
  socket.addEventListener('error', (event: { message?: string; error?: Error }) => {
    lastError = event.error?.message ?? event.message ?? 'WebSocket error';
  });
  socket.addEventListener('close', (event: { code: number; reason: string }) => {
    if (closed) return;
    closed = true;
    onClosed();
    listeners.close(event.code, event.reason || lastError);
  });

  const terminate = () => {
    if (socket.terminate) socket.terminate();
    else socket.close();
  };
  return {
    send(text) {
      if (socket.readyState !== OPEN) return false;
      socket.send(text);
      return true;
    },
    async close(code, reason) {
      if (closed) return;
      socket.close(code, reason);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout'); }, CLOSE_HANDSHAKE_TIMEOUT_MS); });
      if ((await Promise.race([closedPromise, timedOut])) === 'timeout') terminate();
      clearTimeout(timer);
    },
    terminate,
  };
};
