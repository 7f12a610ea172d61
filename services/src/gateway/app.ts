import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { CONNECT_PATH } from '@sesamespace/sdk/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ServiceContext } from '../shared/context.js';
import { installAuthentication } from '../shared/http/authentication.js';
import { addressKey } from '../shared/http/client-address.js';
import { createHttpApp } from '../shared/http/create-http-app.js';
import { AddressConnectionLimit } from './address-limit.js';
import { EVENTS_PREFIX, eventStreamRoute } from './event-stream-route.js';
import { RealtimeNode } from './realtime-node.js';
import { WebSocketConnection } from './websocket-connection.js';

// Client frames are small (auth, ping, typing, replay cursors); anything bigger is abuse.
const MAX_CLIENT_FRAME_BYTES = 256 * 1024;

/**
 * Builds the realtime gateway without listening: WebSocket at `/v1/connect`, SSE at
 * `/api/v1/events`. Pass the process's `RealtimeNode` when the api shares it (single process).
 */
export async function buildGateway(ctx: ServiceContext, node: RealtimeNode = new RealtimeNode(ctx)): Promise<FastifyInstance> {
  const app = createHttpApp(ctx, { edge: 'gateway' });
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_FRAME_BYTES },
    // Tell clients we are going away (1001) so they resume on another node at once.
    preClose: async () => { node.closeClients(); },
  });
  app.addHook('onClose', async () => { await node.close(); });
  app.decorate('realtime', node);

  app.get('/health', { config: { public: true } }, async () => ({ status: 'healthy', timestamp: new Date().toISOString(), connections: node.registry.size }));
  // WebSocket clients authenticate with their first frame, not with headers. Over the
  // per-address cap the upgrade is refused before it happens: HTTP 429 Problem Details.
  const perAddress = new AddressConnectionLimit(ctx.config.SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS);
  app.get(CONNECT_PATH, {
    websocket: true,
    config: { public: true },
    onRequest: async (request) => {
      // Only upgrades count: after one, the TCP socket belongs to that WebSocket alone.
      if (request.headers.upgrade?.toLowerCase() === 'websocket') perAddress.admit(addressKey(request.ip), request.raw.socket);
    },
  }, (socket, request) => {
    releaseUpgradeRequest(socket, request);
    // @fastify/websocket hands over the ws instance it created; its type reaches us through a namespace re-export.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    new WebSocketConnection(socket, node.deps, node.registry);
  });
  // SSE authenticates by header like the REST api; the scope keeps that to this route.
  await app.withTypeProvider<TypeBoxTypeProvider>().register(async (events) => {
    installAuthentication(events, ctx);
    await eventStreamRoute(node)(events, ctx);
  }, { prefix: EVENTS_PREFIX });
  return app;
}

/**
 * Lets the upgrade's HTTP request and reply be collected once the WebSocket is open: otherwise
 * each idle connection keeps them (headers, the response's security headers, a child logger:
 * a few KiB) for its whole life. Two references hold them: the TCP socket's `_httpMessage` (the
 * response @fastify/websocket assigned to route the upgrade) and @fastify/websocket's `error`
 * listener, a closure over request and reply (`WebSocketConnection` installs its own).
 */
function releaseUpgradeRequest(socket: { removeAllListeners(event: 'error'): unknown }, request: FastifyRequest): void {
  const tcp = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  if (tcp._httpMessage) tcp._httpMessage.detachSocket(tcp);
  socket.removeAllListeners('error');
}

declare module 'fastify' {
  interface FastifyInstance { realtime?: RealtimeNode }
}
