// The browser build (`browser` and `default` export conditions): no Node imports. Random bytes
// come from `globalThis.crypto`, WebSockets from `globalThis.WebSocket`.
import type { watchOpenClawJobs as nodeWatchOpenClawJobs } from './openclaw-watch.js';
import type { FileCursorStore as NodeFileCursorStore } from './realtime/file-cursor-store.js';

export * from './public-api.js';
export type { FileCursorStoreOptions } from './realtime/file-cursor-store.js';
export type { WatchOpenClawJobsOptions, OpenClawWatcher } from './openclaw-watch.js';

/** Browsers have no file system: the Node build's name, failing with what to use instead. */
export const FileCursorStore = function FileCursorStore(): never {
  throw new TypeError('FileCursorStore needs a file system (Node); in a browser keep the default MemoryCursorStore, or pass a `cursorStore` of your own (any object with load() and save(cursors)), e.g. one backed by localStorage');
} as unknown as typeof NodeFileCursorStore;
export type FileCursorStore = NodeFileCursorStore;

/** Watching OpenClaw's cron store reads a file (Node); a browser can still map one with `fromOpenClawJobs`. */
export const watchOpenClawJobs: typeof nodeWatchOpenClawJobs = () => {
  throw new TypeError('watchOpenClawJobs reads ~/.openclaw/cron/jobs.json and needs Node; in a browser, map the file\'s contents with fromOpenClawJobs() and call syncSchedule()');
};
