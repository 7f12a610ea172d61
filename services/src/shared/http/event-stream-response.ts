import type { FastifyReply, FastifyRequest } from 'fastify';
import { API_SECURITY_HEADERS } from './security-headers.js';

/** The security headers every API answer carries (the edge sets them on Fastify's reply, which a hijacked reply leaves behind). */
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze(Object.fromEntries(API_SECURITY_HEADERS));

/**
 * Takes the reply over from Fastify and starts a `text/event-stream` response: no caching or
 * proxy buffering, the API's security headers and the request id (a hijacked reply does not send
 * the headers set on Fastify's reply).
 * Both SSE streams start this way: the gateway's event stream and the api's task-run stream.
 */
export function startEventStream(request: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  reply.raw.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': request.id,
  });
}
