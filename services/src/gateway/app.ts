import websocket from '@fastify/websocket';
import { CONNECT_PATH } from '@sesamespace/sdk/protocol';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { authenticateCredential, credentialFromHeaders } from '../shared/auth/authenticate.js';
import type { ServiceContext } from '../shared/context.js';
import { SesameError, unauthorized } from '../shared/errors.js';
import { sendProblem } from '../shared/http/problem-details.js';
import { serveEventStream } from './event-stream.js';
import { RealtimeNode } from './realtime-node.js';
import { WebSocketConnection } from './websocket-connection.js';

// Client frames are small (auth, ping, typing, replay cursors); anything bigger is abuse.
const MAX_CLIENT_FRAME_BYTES = 256 * 1024;

export const EVENTS_PATH = '/api/v1/events';

/**
 * Builds the realtime gateway without listening: WebSocket at `/v1/connect`, SSE at
 * `/api/v1/events`. Pass the process's `RealtimeNode` when the api shares it (single process).
 */
export async function buildGateway(ctx: ServiceContext, node: RealtimeNode = new RealtimeNode(ctx)): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: ctx.logger as FastifyBaseLogger, trustProxy: true });
  app.setErrorHandler((error, _request, reply) => {
    const problem = error instanceof SesameError ? error : new SesameError('internal-error', 'Unexpected error');
    if (!(error instanceof SesameError)) ctx.logger.error({ err: error }, 'gateway request failed');
    return sendProblem(reply, problem.toProblem());
  });
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_FRAME_BYTES },
    // Tell clients we are going away (1001) so they resume on another node at once.
    preClose: async () => { node.closeClients(); },
  });
  app.addHook('onClose', async () => { await node.close(); });
  app.decorate('realtime', node);

  app.get('/health', async () => ({ status: 'healthy', timestamp: new Date().toISOString(), connections: node.registry.size }));
  app.get(CONNECT_PATH, { websocket: true }, (socket) => {
    new WebSocketConnection(socket, node.deps, node.registry);
  });
  app.get(EVENTS_PATH, async (request, reply) => {
    const credential = credentialFromHeaders(request.headers);
    const auth = credential ? await authenticateCredential(ctx.db, ctx.tokens, credential) : null;
    if (!auth) throw unauthorized(credential ? 'The API key or access token is invalid, expired or revoked' : undefined);
    await serveEventStream(request, reply, auth.principal, node);
  });
  return app;
}

declare module 'fastify' {
  interface FastifyInstance { realtime?: RealtimeNode }
}
