import { fullJitterDelay, sleep } from './backoff.js';
import { ConnectionError, RateLimitError, ServiceUnavailableError, type SesameError } from './errors.js';
import type { HttpClient } from './http.js';
import type { TaskEvent } from './protocol/index.js';

export interface StreamTaskOptions {
  /** Start after this seq (the last event you already have); default: from the first event (−1). */
  after?: number;
  /** Stops the stream; the iterator then ends without an error. */
  signal?: AbortSignal;
  /** Reconnect attempts in a row before the iterator throws. Default 10. */
  maxReconnectAttempts?: number;
}

const RECONNECT_BASE_MS = 250;
const RECONNECT_CAP_MS = 10_000;

interface SseBlock { id?: string; event: string; data: string }

/** Splits an SSE body into blocks (`id:`/`event:`/`data:` lines up to a blank line). */
async function* sseBlocks(body: ReadableStream<Uint8Array>): AsyncGenerator<SseBlock> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const text = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const block: SseBlock = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of text.split('\n')) {
        const colon = line.indexOf(':');
        if (colon === 0) continue; // a comment
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') block.id = value;
        else if (field === 'event') block.event = value;
        else if (field === 'data') data.push(value);
      }
      block.data = data.join('\n');
      yield block;
    }
  }
}

/** Errors worth reconnecting after: the network, a restart (503) or a rate limit. */
function transient(err: unknown): err is SesameError {
  return err instanceof ConnectionError || err instanceof ServiceUnavailableError || err instanceof RateLimitError;
}

/**
 * Reads `GET /tasks/:id/stream` as an async iterator of run events. When the connection drops it
 * reconnects with `Last-Event-ID` set to the last event it yielded, so each event is yielded once,
 * in seq order; it ends after the current run's `done` (the server's `event: end`).
 */
export async function* streamTaskEvents(http: HttpClient, taskId: string, options: StreamTaskOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
  let last = options.after ?? -1;
  let failures = 0;
  const maxAttempts = options.maxReconnectAttempts ?? 10;
  while (!options.signal?.aborted) {
    let ended = false;
    let received = false;
    try {
      const headers: Record<string, string> = last >= 0 ? { 'last-event-id': String(last) } : {};
      const response = await http.openStream(`/tasks/${encodeURIComponent(taskId)}/stream`, headers, options.signal);
      if (!response.body) throw new ConnectionError({ status: 0, type: 'urn:sesame:error:connection', title: 'Connection failed', detail: 'The task stream had no body' });
      for await (const block of sseBlocks(response.body)) {
        received = true;
        failures = 0;
        if (block.event === 'end') { ended = true; break; }
        if (block.event !== 'event') continue;
        const event = JSON.parse(block.data) as TaskEvent;
        if (event.seq <= last) continue;
        last = event.seq;
        yield event;
      }
    } catch (err) {
      if (options.signal?.aborted) return;
      const retryable = transient(err) || (err instanceof Error && (err.name === 'TypeError' || err.name === 'AbortError'));
      if (!retryable || ++failures > maxAttempts) throw err;
    }
    if (ended) return;
    if (!received && ++failures > maxAttempts) {
      throw new ConnectionError({ status: 0, type: 'urn:sesame:error:connection', title: 'Connection failed', detail: `The task stream closed ${failures} times in a row without an event` });
    }
    // The stream broke off without its end: resume after the last event yielded.
    await sleep(fullJitterDelay(failures, RECONNECT_BASE_MS, RECONNECT_CAP_MS));
  }
}
