import { fullJitterDelay, sleep } from './backoff.js';
import { ConnectionError, RateLimitError, ServiceUnavailableError, SesameError, UnauthorizedError, errorFromResponse } from './errors.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  /**
   * The request is safe to repeat: GET/PUT/DELETE always are; a POST/PATCH only when it carries
   * an idempotency key the server deduplicates on (e.g. a message's clientGeneratedId).
   */
  idempotent?: boolean;
  /** Send without credentials (login, challenge). */
  anonymous?: boolean;
}

export interface CredentialSource {
  /** The value for `Authorization: Bearer …`. */
  authorization(): Promise<string>;
  /** Called after a 401 on an authenticated request; true if new credentials are worth a retry. */
  refreshAfterUnauthorized(): Promise<boolean>;
}

export interface HttpClientOptions {
  apiUrl: string;
  maxRetries: number;
  timeoutMs: number;
  fetch: typeof fetch;
}

const RETRY_BASE_MS = 500;
const RETRY_CAP_MS = 20_000;

/** Sends REST requests: JSON in and out, `{data}` unwrapped, typed errors, safe retries. */
export class HttpClient {
  private readonly base: string;
  credentials?: CredentialSource;

  constructor(private readonly options: HttpClientOptions) {
    this.base = `${options.apiUrl.replace(/\/+$/, '')}/api/v1`;
  }

  /** Returns the parsed body (`{data, pagination}` left intact); use `data()` to unwrap. */
  async raw<T = unknown>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
    const retryable = options.idempotent ?? (method === 'GET' || method === 'PUT' || method === 'DELETE');
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.send(method, path, options);
      } catch (err) {
        // Network failure: the server may or may not have acted, so only idempotent requests retry.
        if (retryable && attempt < this.options.maxRetries) { await sleep(fullJitterDelay(attempt, RETRY_BASE_MS, RETRY_CAP_MS)); continue; }
        throw toConnectionError(err);
      }
      const body = await readBody(response);
      if (response.ok) return body as T;
      const error = errorFromResponse(response.status, body, response.headers);
      // An expired access token: refresh once and replay (the request was rejected, not executed).
      if (error instanceof UnauthorizedError && !options.anonymous && !refreshed && this.credentials) {
        refreshed = true;
        if (await this.credentials.refreshAfterUnauthorized()) { attempt--; continue; }
      }
      // Decided on the error's class, i.e. its Problem Details type (or the status when it has none).
      // Rate limited: the request was not executed, so any request may retry. Unavailable
      // (503, or 502/504 from a proxy): it may have been, so idempotent requests only.
      const mayRetry = error instanceof RateLimitError || (retryable && error instanceof ServiceUnavailableError);
      if (mayRetry && attempt < this.options.maxRetries) {
        const hinted = error.retryAfter !== undefined ? error.retryAfter * 1000 : undefined;
        await sleep(hinted !== undefined ? Math.min(hinted, 60_000) : fullJitterDelay(attempt, RETRY_BASE_MS, RETRY_CAP_MS));
        continue;
      }
      throw error;
    }
  }

  async data<T>(method: HttpMethod, path: string, options?: RequestOptions): Promise<T> {
    const body = await this.raw<{ data: T } | undefined>(method, path, options);
    // 204 and empty bodies carry no envelope; callers of such endpoints ignore the result.
    return body?.data as T;
  }

  /**
   * Opens a long-lived `GET` (Server-Sent Events) and returns the response once its headers
   * arrived; the body is the caller's to read. An expired access token is refreshed once; any
   * other error status is thrown as the typed error (no retries here: the stream's reader decides).
   */
  async openStream(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    for (let refreshed = false; ; refreshed = true) {
      const all: Record<string, string> = { accept: 'text/event-stream', ...headers };
      if (this.credentials) all.authorization = `Bearer ${await this.credentials.authorization()}`;
      let response: Response;
      try {
        response = await this.options.fetch(new URL(this.base + path), { method: 'GET', headers: all, signal });
      } catch (err) {
        throw toConnectionError(err);
      }
      if (response.ok) return response;
      const error = errorFromResponse(response.status, await readBody(response), response.headers);
      if (error instanceof UnauthorizedError && !refreshed && this.credentials && await this.credentials.refreshAfterUnauthorized()) continue;
      throw error;
    }
  }

  private async send(method: HttpMethod, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(this.base + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (!options.anonymous && this.credentials) headers.authorization = `Bearer ${await this.credentials.authorization()}`;
    const controller = new AbortController();
    const timer = setTimeout(() => { controller.abort(); }, this.options.timeoutMs);
    try {
      return await this.options.fetch(url, {
        method, headers, signal: controller.signal, body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return text; }
}

function toConnectionError(err: unknown): SesameError {
  const aborted = err instanceof Error && err.name === 'AbortError';
  return new ConnectionError({
    status: 0, type: 'urn:sesame:error:connection', title: aborted ? 'Timeout' : 'Connection failed',
    detail: aborted ? 'The request timed out' : `Could not reach the Sesame API: ${err instanceof Error ? err.message : String(err)}`,
  });
}
