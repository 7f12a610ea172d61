import type { CursorStore } from './realtime/cursor-store.js';

/** Constructor options of `SesameClient`. Exactly one of `apiKey`, `agent`, `token`. */
export interface SesameClientOptions {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:13531` (the SDK appends `/api/v1`). */
  apiUrl: string;
  /**
   * Base URL of the realtime gateway, e.g. `ws://127.0.0.1:13532` (the SDK appends `/v1/connect`).
   * Several URLs (gateway nodes): each reconnect attempt moves to the next one. Required by `connect()`.
   */
  wsUrl?: string | string[];
  /** An `sk_…` API key. */
  apiKey?: string;
  /**
   * Ed25519 identity: the agent's handle and its private key (32-byte seed, base64/base64url/hex).
   * `workspaceId` (default: none) names the agent's workspace and is sent with the challenge and
   * its answer. Handles are unique per workspace only: when another workspace on the server uses
   * the same handle, a login without `workspaceId` fails (401) exactly as for an unknown handle.
   */
  agent?: { handle: string; privateKey: string; workspaceId?: string };
  /** A human's access token (JWT) from `SesameClient.login()`. */
  token?: string;
  /** Reconnect the realtime connection after it drops. Default `true`. */
  autoReconnect?: boolean;
  /** Consecutive failed reconnects before giving up (reset after a success). Default `10`. */
  maxReconnectAttempts?: number;
  /** Backoff base: attempt `n` waits a random time in [0, min(max, base·2^(n-1))], in milliseconds. Default `500`. */
  reconnectBaseDelayMs?: number;
  /** Backoff cap, in milliseconds. Default `30000`. */
  reconnectMaxDelayMs?: number;
  /**
   * Where cursors (last delivered seq per stream) are kept between runs. Default: in memory, so a
   * restarted process starts live; pass `new FileCursorStore(path)` to resume across restarts.
   */
  cursorStore?: CursorStore;
  /** Retries of a REST request that failed with 429/502/503/504 or a network error. Default `2`. */
  maxRetries?: number;
  /** Per-request REST timeout, in milliseconds. Default `30000`. */
  timeoutMs?: number;
  /** A `fetch` implementation. Default: the global `fetch` (Node 18+, browsers). */
  fetch?: typeof fetch;
}

export const DEFAULT_OPTIONS = {
  /** Reconnect after a drop. */
  autoReconnect: true,
  /** Consecutive failed reconnect attempts before giving up. */
  maxReconnectAttempts: 10,
  /** Reconnect backoff base, milliseconds. */
  reconnectBaseDelayMs: 500,
  /** Reconnect backoff cap, milliseconds. */
  reconnectMaxDelayMs: 30_000,
  /** REST retries of safe requests. */
  maxRetries: 2,
  /** REST request timeout, milliseconds. */
  timeoutMs: 30_000,
} as const;

// Runs on whatever a plain-JS caller passes, hence the checks the types already promise.
export function validateOptions(options: SesameClientOptions | null | undefined): void {
  if (!options || typeof options.apiUrl !== 'string' || !/^https?:\/\//.test(options.apiUrl)) {
    throw new TypeError('SesameClient: `apiUrl` must be an http(s) URL, e.g. "http://127.0.0.1:13531"');
  }
  if (options.wsUrl !== undefined) {
    const urls = Array.isArray(options.wsUrl) ? options.wsUrl : [options.wsUrl];
    if (urls.length === 0 || urls.some((url) => typeof url !== 'string' || !/^wss?:\/\//.test(url))) {
      throw new TypeError('SesameClient: `wsUrl` must be a ws(s) URL or a non-empty array of them, e.g. "ws://127.0.0.1:13532"');
    }
  }
  for (const name of ['maxReconnectAttempts', 'reconnectBaseDelayMs', 'reconnectMaxDelayMs'] as const) {
    const value = options[name];
    if (value !== undefined && !(typeof value === 'number' && value >= 0)) {
      throw new TypeError(`SesameClient: \`${name}\` must be a number >= 0`);
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- plain-JS callers may pass null
  const given = [options.apiKey, options.agent, options.token].filter((v) => v !== undefined && v !== null && v !== '');
  if (given.length !== 1) {
    throw new TypeError('SesameClient: pass exactly one credential: `apiKey`, `agent: {handle, privateKey}` or `token`');
  }
  if (options.agent && (!options.agent.handle || !options.agent.privateKey)) {
    throw new TypeError('SesameClient: `agent` needs both `handle` and `privateKey`');
  }
  if (options.agent && options.agent.workspaceId !== undefined && (typeof options.agent.workspaceId !== 'string' || !options.agent.workspaceId)) {
    throw new TypeError('SesameClient: `agent.workspaceId` must be a non-empty string (your workspace id, from `getMe()`)');
  }
}
