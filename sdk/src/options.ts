/** Constructor options of `SesameClient`. Exactly one of `apiKey`, `agent`, `token`. */
export interface SesameClientOptions {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:13531` (the SDK appends `/api/v1`). */
  apiUrl: string;
  /** Base URL of the realtime gateway, e.g. `ws://127.0.0.1:13532` (the SDK appends `/v1/connect`). */
  wsUrl?: string;
  /** An `sk_…` API key. */
  apiKey?: string;
  /** Ed25519 identity: the agent's handle and its private key (32-byte seed, base64/base64url/hex). */
  agent?: { handle: string; privateKey: string; workspaceId?: string };
  /** A human's access token (JWT) from `SesameClient.login()`. */
  token?: string;
  /** Reconnect the realtime connection after it drops. Default `true`. */
  autoReconnect?: boolean;
  /** Consecutive failed reconnects before giving up (reset after a success). Default `10`. */
  maxReconnectAttempts?: number;
  /** Retries of a REST request that failed with 429/502/503/504 or a network error. Default `2`. */
  maxRetries?: number;
  /** Per-request REST timeout, in milliseconds. Default `30000`. */
  timeoutMs?: number;
  /** A `fetch` implementation. Default: the global `fetch` (Node 18+, browsers). */
  fetch?: typeof fetch;
}

export const DEFAULT_OPTIONS = {
  autoReconnect: true,
  maxReconnectAttempts: 10,
  maxRetries: 2,
  timeoutMs: 30_000,
} as const;

export function validateOptions(options: SesameClientOptions): void {
  if (!options || typeof options.apiUrl !== 'string' || !/^https?:\/\//.test(options.apiUrl)) {
    throw new TypeError('SesameClient: `apiUrl` must be an http(s) URL, e.g. "http://127.0.0.1:13531"');
  }
  if (options.wsUrl !== undefined && !/^wss?:\/\//.test(options.wsUrl)) {
    throw new TypeError('SesameClient: `wsUrl` must be a ws(s) URL, e.g. "ws://127.0.0.1:13532"');
  }
  const given = [options.apiKey, options.agent, options.token].filter((v) => v !== undefined && v !== null && v !== '');
  if (given.length !== 1) {
    throw new TypeError('SesameClient: pass exactly one credential: `apiKey`, `agent: {handle, privateKey}` or `token`');
  }
  if (options.agent && (!options.agent.handle || !options.agent.privateKey)) {
    throw new TypeError('SesameClient: `agent` needs both `handle` and `privateKey`');
  }
}
