import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import { CONNECT_PATH } from '@sesamespace/sdk/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseTrustProxy } from '../shared/config.js';
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
  upgradeConnectDirectly(app, ctx, perAddress, node);
  // SSE authenticates by header like the REST api; the scope keeps that to this route.
  await app.withTypeProvider<TypeBoxTypeProvider>().register(async (events) => {
    installAuthentication(events, ctx);
    await eventStreamRoute(node)(events, ctx);
  }, { prefix: EVENTS_PREFIX });
  return app;
}

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * The common upgrade — `GET /v1/connect` from an address below its cap, no proxy to believe —
 * goes straight to `ws`: through @fastify/websocket it would run fastify's whole request
 * lifecycle (a ServerResponse, routing, a request id, request and reply objects, the hooks and
 * a promise hop) only to hijack the reply, a good share of what a connection costs the gateway.
 * Every other upgrade (another path or method, `SESAME_TRUST_PROXY` set, which fastify applies to
 * the address, or an address at its cap, refused with fastify's 429 Problem Details) takes
 * fastify's route as before. Neither path sends any header but the 101's: ws writes it alone.
 * Once `close()` began, an upgrade (it can still arrive on a connection accepted before) is
 * answered what fastify answers any request then, a 503, and its connection ended: fastify's route
 * would answer the same but leave the socket open (an upgrade's socket is no longer the HTTP
 * server's to close), holding `close()` until the client went away.
 */
function upgradeConnectDirectly(app: FastifyInstance, ctx: ServiceContext, perAddress: AddressConnectionLimit, node: RealtimeNode): void {
  const server = app.server;
  const routed = server.listeners('upgrade') as UpgradeListener[];
  server.removeAllListeners('upgrade');
  const deps = node.deps;
  // Fastify's own closing flag is internal; its preClose hooks run right after it is set.
  let closing = false;
  app.addHook('preClose', (done) => { closing = true; done(); });
  // Behind a proxy to believe, every upgrade takes fastify's route (which derives the address); only the closing answer is ours.
  const direct = !parseTrustProxy(ctx.config.SESAME_TRUST_PROXY);
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (closing) { refuseWhileClosing(socket); return; }
    // The server's upgrade sockets are TCP sockets (its types say Duplex).
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    const tcp = socket as Socket;
    const address = tcp.remoteAddress;
    if (direct && request.url === CONNECT_PATH && request.method === 'GET' && request.headers.upgrade?.toLowerCase() === 'websocket'
      && address !== undefined && perAddress.tryAdmit(addressKey(address), tcp)) {
      app.websocketServer.handleUpgrade(request, socket, head, (ws) => {
        // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see the route above
        new WebSocketConnection(ws, deps, node.registry);
      });
      return;
    }
    for (const listener of routed) listener.call(server, request, socket, head);
  });
}

// Byte for byte fastify's answer to a request while it closes (`return503OnClosing`).
const CLOSING_BODY = '{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}';

function refuseWhileClosing(socket: Duplex): void {
  socket.on('error', () => { socket.destroy(); });
  // Destroyed once written: the server's sockets allow half-open, so `end` alone would wait for the client's FIN.
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${String(CLOSING_BODY.length)}\r\nDate: ${new Date().toUTCString()}\r\n\r\n${CLOSING_BODY}`, () => { socket.destroy(); });
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
