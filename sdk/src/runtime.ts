import type { WebSocketConstructor } from './realtime/websocket.js';

/** The part of Web Crypto the SDK uses: random bytes for key pairs and message ids. */
export interface RandomSource {
  getRandomValues(array: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>;
}

/** What an entry point provides where the host's globals fall short. */
export interface HostRuntime {
  /** Random bytes when `globalThis.crypto` is missing (Node 18). */
  crypto?: RandomSource;
  /** Loads the WebSocket implementation on first connect; without it, `globalThis.WebSocket`. */
  loadWebSocket?: () => Promise<WebSocketConstructor>;
}

/**
 * Random bytes and WebSockets are the host facilities that differ between Node and browsers.
 * This module imports nothing from Node: the browser build (`browser.ts`) leaves it empty and
 * uses the globals; the Node build (`index.ts`) fills it in when it loads.
 */
const host: HostRuntime = {};

export function configureRuntime(runtime: HostRuntime): void {
  Object.assign(host, runtime);
}

export function hostRuntime(): Readonly<HostRuntime> {
  return host;
}

/** `length` cryptographically random bytes, from `globalThis.crypto` or the entry point's fallback. */
export function randomBytes(length: number): Uint8Array {
  const source = (globalThis as { crypto?: RandomSource }).crypto ?? host.crypto;
  if (typeof source?.getRandomValues !== 'function') {
    throw new Error('No Web Crypto (globalThis.crypto.getRandomValues) in this runtime: @sesamespace/sdk needs Node 18+ or a browser');
  }
  return source.getRandomValues(new Uint8Array(length));
}
