import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Takes the reply over from Fastify and starts a `text/event-stream` response: no caching or
 * proxy buffering, and the request id (hijacked replies skip the edge's onSend hook that sets it).
 * Both SSE streams start this way: the gateway's event stream and the api's task-run stream.
 */
export function startEventStream(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
}
