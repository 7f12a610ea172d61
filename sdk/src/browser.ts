// The browser build (`browser` and `default` export conditions): no Node imports. Random bytes
// come from `globalThis.crypto`, WebSockets from `globalThis.WebSocket`.
import type { FileCursorStore as NodeFileCursorStore } from './realtime/file-cursor-store.js';

export * from './public-api.js';
export type { FileCursorStoreOptions } from './realtime/file-cursor-store.js';

/** Browsers have no file system: the Node build's name, failing with what to use instead. */
export const FileCursorStore = function FileCursorStore(): never {
  throw new TypeError('FileCursorStore needs a file system (Node); in a browser keep the default MemoryCursorStore, or pass a `cursorStore` of your own (any object with load() and save(cursors)), e.g. one backed by localStorage');
} as unknown as typeof NodeFileCursorStore;
export type FileCursorStore = NodeFileCursorStore;
