// The Node build (`node` export condition, and `@sesamespace/sdk/node`): the browser-safe API
// plus what needs Node — `ws` for WebSockets, `node:crypto` where `globalThis.crypto` is missing
// (Node 18), the file-backed cursor store and the OpenClaw cron-store watcher. Browser bundles resolve `browser.ts` instead.
import { webcrypto } from 'node:crypto';
import { configureRuntime } from './runtime.js';
import type { WebSocketConstructor } from './realtime/websocket.js';

let ws: Promise<WebSocketConstructor> | undefined;

configureRuntime({
  crypto: webcrypto,
  // `ws` rather than Node's own WebSocket (Node 22+ only, and without `terminate()`); loaded on
  // first connect, so REST-only programs never load it.
  loadWebSocket: () => {
    ws ??= import(/* webpackIgnore: true */ 'ws').then((mod) => mod.WebSocket as unknown as WebSocketConstructor);
    return ws;
  },
});

export * from './public-api.js';
export { FileCursorStore, type FileCursorStoreOptions } from './realtime/file-cursor-store.js';
export { watchOpenClawJobs, type WatchOpenClawJobsOptions, type OpenClawWatcher } from './openclaw-watch.js';
