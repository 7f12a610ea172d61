import type { Cursors } from '@sesamespace/sdk/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../shared/errors.js';
import { startEventStream } from '../shared/http/event-stream-response.js';
import type { RegisteredConnection } from './connection-registry.js';
import type { RealtimeIdentity } from './realtime-auth.js';
import type { RealtimeNode } from './realtime-node.js';
import { RealtimeSession, type Sink } from './session.js';

const KEEPALIVE_MAX_MS = 15_000;

/** SSE ids are the whole cursor map, so `Last-Event-ID` alone resumes every stream. */
export function encodeSseCursor(cursors: Cursors): string {
  return Buffer.from(JSON.stringify(cursors)).toString('base64url');
}

export function decodeSseCursor(value: string): Cursors {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('Last-Event-ID: not a cursor issued by this server');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('Last-Event-ID: not a cursor issued by this server');
  const cursors: Cursors = {};
  for (const [stream, seq] of Object.entries(parsed)) {
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0 || stream.length > 200) throw badRequest('Last-Event-ID: not a cursor issued by this server');
    cursors[stream] = seq;
  }
  return cursors;
}

/**
 * `GET /api/v1/events`: the same streams and guarantees as the WebSocket, as Server-Sent Events.
 * Each durable event's `id:` is the cursor after it; reconnecting with it as `Last-Event-ID`
 * (EventSource does this itself) replays what was missed, then goes live.
 */
export async function serveEventStream(
  request: FastifyRequest, reply: FastifyReply, identity: RealtimeIdentity, node: RealtimeNode, lastEventIdQuery?: string,
): Promise<void> {
  const header = request.headers['last-event-id'];
  // The header (what EventSource sends on reconnect) wins; the query serves clients that cannot set headers.
  const lastEventId = typeof header === 'string' && header ? header : lastEventIdQuery || undefined;
  const cursors = lastEventId ? decodeSseCursor(lastEventId) : undefined;

  const raw = reply.raw;
  let positions: Cursors = {};
  let ended = false;
  const write = (chunk: string | Buffer) => { if (!ended) raw.write(chunk); };
  const sink: Sink = {
    send(frame, meta) {
      let id = '';
      if (meta.stream !== undefined && meta.seq !== undefined) {
        positions[meta.stream] = meta.seq;
        id = `id: ${encodeSseCursor(positions)}\n`;
      }
      write(`${id}event: ${meta.type}\ndata: `);
      write(frame);
      write('\n\n');
    },
    bufferedAmount: () => raw.writableLength,
    close(code, reason) {
      if (ended) return;
      write(`event: close\ndata: ${JSON.stringify({ code, reason })}\n\n`);
      ended = true;
      raw.end();
    },
  };

  startEventStream(request, reply);
  write('retry: 1000\n\n');

  const session = new RealtimeSession(identity.principal, sink, node.deps);
  // Registered like a WebSocket: a revocation, the credential's expiry or the periodic re-check
  // ends the stream (`event: close` with 4005); reconnecting with the same credential is a 401.
  const connection: RegisteredConnection = {
    lastSeenAt: undefined,
    lastValidatedAt: Date.now(),
    get isOpen() { return !ended; },
    identity,
    fail: (code, error) => { sink.close(code, error); },
    close: (code, reason) => { sink.close(code, reason); },
  };
  node.registry.add(connection);
  node.registry.authenticated(connection);
  const keepalive = setInterval(() => { write(': keepalive\n\n'); }, Math.min(KEEPALIVE_MAX_MS, node.ctx.config.SESAME_HEARTBEAT_INTERVAL_MS / 2));
  const cleanup = () => {
    ended = true;
    clearInterval(keepalive);
    node.registry.remove(connection);
    session.close();
  };
  raw.on('close', cleanup);

  try {
    const { starts, begin } = await session.open(cursors);
    positions = { ...starts };
    write(`id: ${encodeSseCursor(positions)}\nevent: authenticated\ndata: ${JSON.stringify(session.authenticatedFrame(starts))}\n\n`);
    await begin();
  } catch (err) {
    request.log.error({ err }, 'event stream failed to start');
    sink.close(4500, 'internal error');
  }
}
