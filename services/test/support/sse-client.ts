export interface SseEvent { id?: string; event: string; data: any }

/** Reads `GET /api/v1/events` with fetch and parses the stream into events. */
export class TestEventStream {
  readonly events: SseEvent[] = [];
  status = 0;
  /** True once the server ended the response (or it was aborted). */
  ended = false;
  private readonly controller = new AbortController();
  private done: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string>): Promise<TestEventStream> {
    const stream = new TestEventStream();
    const response = await fetch(url, { headers, signal: stream.controller.signal });
    stream.status = response.status;
    if (response.ok && response.body) stream.done = stream.read(response.body);
    else {
      stream.events.push({ event: 'http-error', data: await response.json() });
      stream.ended = true;
    }
    return stream;
  }

  private async read(body: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { event: 'message', data: undefined };
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) { event.data = JSON.parse(data); this.events.push(event); }
        }
      }
    } catch { /* aborted */ }
    this.ended = true;
  }

  async waitFor(predicate: (e: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
    const started = Date.now();
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      if (Date.now() - started > timeoutMs) throw new Error(`timed out; events: ${JSON.stringify(this.events.map((e) => e.event))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits until the server ends the stream; resolves with its last event (`close` when it said why). */
  async waitForEnd(timeoutMs = 15_000): Promise<SseEvent | undefined> {
    const started = Date.now();
    while (!this.ended) {
      if (Date.now() - started > timeoutMs) throw new Error(`stream did not end; events: ${JSON.stringify(this.events.map((e) => e.event))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.events.at(-1);
  }

  async close() {
    this.controller.abort();
    await this.done;
  }
}
