import { describe, expect, it } from 'vitest';
import { ForbiddenError, SesameClient, type TaskEvent } from '../src/index.js';

const event = (seq: number, kind = 'log') => `id: ${seq}\nevent: event\ndata: ${JSON.stringify({ seq, kind, timestamp: '2025-01-15T10:00:00.000Z', run: 1, authorId: null, ...(kind === 'done' ? { status: 'completed' } : { logType: 'info', logMessage: `m${seq}` }) })}\n\n`;

/** A fetch that answers each stream request with the next scripted body (split in odd chunks). */
function scriptedFetch(bodies: (string | Response)[], seen: Headers[]): typeof fetch {
  return (async (_url: URL, init?: RequestInit) => {
    seen.push(new Headers(init?.headers));
    const next = bodies.shift();
    if (next === undefined) throw new Error('no more scripted responses');
    if (next instanceof Response) return next;
    const bytes = new TextEncoder().encode(next);
    return new Response(new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 7) controller.enqueue(bytes.slice(i, i + 7));
        controller.close();
      },
    }), { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
}

async function collect(iterable: AsyncIterable<TaskEvent>): Promise<number[]> {
  const seqs: number[] = [];
  for await (const e of iterable) seqs.push(e.seq);
  return seqs;
}

describe('streamTask', () => {
  it('resumes after a drop with Last-Event-ID, skips what it already yielded, and stops at end', async () => {
    const seen: Headers[] = [];
    const fetch = scriptedFetch([
      `retry: 1000\n\n${event(0)}: comment\n\n${event(1)}`,
      // The server replays one event the client already has; it is not yielded twice.
      `${event(1)}event: ping\ndata: keepalive\n\n${event(2)}${event(3, 'done')}event: end\ndata: {"reason":"done","seq":3}\n\n`,
    ], seen);
    const client = new SesameClient({ apiUrl: 'http://sesame.test', apiKey: 'sk_x', fetch });
    expect(await collect(client.streamTask('task_1'))).toEqual([0, 1, 2, 3]);
    expect(seen.map((h) => h.get('last-event-id'))).toEqual([null, '1']);
    expect(seen[0].get('authorization')).toBe('Bearer sk_x');
    expect(seen[0].get('accept')).toBe('text/event-stream');
  });

  it('starts after `after`, and throws errors that retrying cannot fix', async () => {
    const seen: Headers[] = [];
    const fetch = scriptedFetch([
      `${event(5)}event: end\ndata: {}\n\n`,
      new Response(JSON.stringify({ type: 'urn:sesame:error:forbidden', title: 'Forbidden', status: 403, detail: 'not a member' }), { status: 403, headers: { 'content-type': 'application/problem+json' } }),
    ], seen);
    const client = new SesameClient({ apiUrl: 'http://sesame.test', apiKey: 'sk_x', fetch });
    expect(await collect(client.streamTask('task_1', { after: 4 }))).toEqual([5]);
    expect(seen[0].get('last-event-id')).toBe('4');
    await expect(collect(client.streamTask('task_1'))).rejects.toBeInstanceOf(ForbiddenError);
  });

  it('gives up after maxReconnectAttempts connections in a row without an event', async () => {
    const seen: Headers[] = [];
    const client = new SesameClient({ apiUrl: 'http://sesame.test', apiKey: 'sk_x', fetch: scriptedFetch(['', '', ''], seen) });
    await expect(collect(client.streamTask('task_1', { maxReconnectAttempts: 2 }))).rejects.toThrow(/without an event/);
    expect(seen).toHaveLength(3);
  });
});
