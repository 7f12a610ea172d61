import type { TaskEvent } from '@sesamespace/sdk/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceContext } from '../../../shared/context.js';
import type { TaskRow } from '../../../shared/db/schema.js';
import { badRequest } from '../../../shared/errors.js';
import { startEventStream } from '../../../shared/http/event-stream-response.js';
import { readRunEvents, taskRunTopic } from './run-events.js';

const PAGE = 500;
/** A reader this far behind is cut off; it resumes with `Last-Event-ID` and reads from Postgres. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** `Last-Event-ID` (what EventSource sends back) wins over `?after=`; −1 means from the first event. */
export function resumePoint(request: FastifyRequest, afterQuery: number | undefined): number {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') {
    if (!/^(-1|0|[1-9][0-9]{0,15})$/.test(header)) throw badRequest('Last-Event-ID: must be the seq of a task event');
    return Number(header);
  }
  return afterQuery ?? -1;
}

/**
 * `GET /tasks/:id/stream`, as the task reference shows it: each run event is
 * `id: <seq>` / `event: event` / `data: {seq, kind, timestamp, …}`; `event: ping` every
 * `pingMs`; what follows `after` is replayed from Postgres, then live events follow with no gap
 * and no duplicate (a live event is sent only when its seq is exactly the next one, anything
 * else is read from Postgres). The `done` of the task's current run ends the stream, after an
 * `event: end` that tells a resuming client there is nothing more to wait for.
 */
export async function serveTaskStream(
  request: FastifyRequest, reply: FastifyReply, ctx: ServiceContext, task: TaskRow, after: number, pingMs: number,
): Promise<void> {
  const raw = reply.raw;
  let last = after;
  let ended = false;
  // `requests` counts drains asked for: one asked while a drain runs makes that drain read again.
  const pump = { draining: false, requests: 0 };

  const finish = (reason: string) => {
    if (ended) return;
    raw.write(`event: end\ndata: ${JSON.stringify({ reason, seq: last })}\n\n`);
    ended = true;
    raw.end();
  };
  const send = (event: TaskEvent) => {
    if (ended || event.seq !== last + 1) return;
    raw.write(`id: ${event.seq}\nevent: event\ndata: ${JSON.stringify(event)}\n\n`);
    last = event.seq;
    // A retried task's earlier runs end with `done` too; only the current run's ends the stream.
    if (event.kind === 'done' && event.run >= task.run) finish('done');
    else if (raw.writableLength > MAX_BUFFERED_BYTES) finish('slow-consumer');
  };
  const drain = async () => {
    pump.requests++;
    if (pump.draining) return;
    pump.draining = true;
    try {
      for (;;) {
        const asked = pump.requests;
        const events = await readRunEvents(ctx.db, task.id, last, PAGE);
        for (const event of events) send(event);
        if (ended || (events.length < PAGE && pump.requests === asked)) break;
      }
    } finally {
      pump.draining = false;
    }
  };

  startEventStream(request, reply);
  // Subscribe before the replay reads, so nothing committed in between is missed.
  const unsubscribe = ctx.bus.subscribe(taskRunTopic(task.id), (message) => {
    if (message.kind !== 'event' || ended) return;
    const event = message.event.data as TaskEvent;
    if (!pump.draining && event.seq === last + 1) send(event);
    else if (event.seq > last) void drain().catch(fail);
  });
  // The ping also re-reads: a publish lost on the bus is delivered within one ping period.
  const ping = setInterval(() => {
    if (ended) return;
    raw.write('event: ping\ndata: keepalive\n\n');
    void drain().catch(fail);
  }, pingMs);
  const cleanup = () => { ended = true; clearInterval(ping); unsubscribe(); };
  raw.on('close', cleanup);
  function fail(err: unknown) {
    request.log.error({ err, taskId: task.id }, 'task stream failed');
    if (!ended) { ended = true; raw.end(); }
  }

  try {
    await ctx.bus.ready();
    // Resuming after the current run's `done`: nothing more will come.
    const done = await ctx.db.selectFrom('task_events').select('seq').where('task_id', '=', task.id).where('run', '=', task.run).where('kind', '=', 'done').executeTakeFirst();
    if (done && done.seq <= after) { finish('done'); return; }
    await drain();
  } catch (err) {
    fail(err);
  }
}
