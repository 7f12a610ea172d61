import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONNECT_PATH, toWireEventFrame, type AuthFrame, type Cursors, type SesameEvent } from '../src/protocol/index.js';

/** A client frame as the gateway received it. */
export type Received = { type: string; [key: string]: any };

/** One client connection, as the test sees it after the client's first (`auth`) frame. */
class GatewayConnection {
  readonly received: Received[] = [];
  closed = false;
  closeCode?: number;
  private waiters: Array<{ type: string; resolve: (frame: Received) => void }> = [];

  constructor(readonly socket: WebSocket, readonly auth: AuthFrame, readonly url: string, private readonly gateway: FakeGateway) {
    socket.on('message', (raw) => {
      const frame = JSON.parse((raw as Buffer).toString()) as Received;
      this.received.push(frame);
      if (frame.type === 'ping' && gateway.answerPings) this.send({ type: 'pong', heads: { ...gateway.heads } });
      for (const waiter of this.waiters.filter((w) => w.type === frame.type)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      }
    });
    socket.on('close', (code) => { this.closed = true; this.closeCode = code; });
  }

  send(frame: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** Answers the auth frame; `heads` defaults to the gateway's. */
  authenticate(options: { heads?: Cursors; heartbeatIntervalMs?: number; sessionId?: string } = {}): void {
    this.send({
      type: 'authenticated', protocolVersion: 1, sessionId: options.sessionId ?? `sess_${this.gateway.connections.length}`,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? this.gateway.heartbeatIntervalMs,
      principal: { id: 'pr_me', handle: 'me', kind: 'agent', workspaceId: 'ws_1' },
      heads: { ...(options.heads ?? this.gateway.heads) },
    });
  }

  /** Sends durable events as the gateway would (with the `message` alias). */
  sendEvents(...events: SesameEvent[]): void {
    for (const event of events) this.send(toWireEventFrame(event));
  }

  reject(error = 'invalid credentials'): void {
    this.send({ type: 'error', error });
    this.socket.close(4001, error);
  }

  close(code: number, reason = ''): void {
    this.socket.close(code, reason);
  }

  /** Drops the TCP connection without a close frame: what a killed node looks like (1006). */
  terminate(): void {
    this.socket.terminate();
  }

  /** The next frame of `type` the client sends after this call. */
  nextFrame(type: string): Promise<Received> {
    return new Promise((resolve) => this.waiters.push({ type, resolve }));
  }
}

/** A protocol-level stand-in for the gateway: the test decides every answer. */
export class FakeGateway {
  readonly connections: GatewayConnection[] = [];
  /** Current heads, announced in `authenticated` (by default) and in every `pong`. */
  heads: Cursors = {};
  heartbeatIntervalMs = 30_000;
  answerPings = true;
  private waiting: Array<(connection: GatewayConnection) => void> = [];
  private queued: GatewayConnection[] = [];

  private constructor(private readonly server: WebSocketServer, readonly url: string) {
    server.on('connection', (socket, request) => {
      socket.once('message', (raw) => {
        const connection = new GatewayConnection(socket, JSON.parse((raw as Buffer).toString()), request.url ?? '', this);
        this.connections.push(connection);
        const waiter = this.waiting.shift();
        if (waiter) waiter(connection);
        else this.queued.push(connection);
      });
    });
  }

  static async start(): Promise<FakeGateway> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => { resolve(); }));
    return new FakeGateway(server, `ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  }

  /** The next connection that sent its auth frame (the path is checked to be `/v1/connect`). */
  nextConnection(): Promise<GatewayConnection> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(check(queued));
    return new Promise((resolve) => this.waiting.push((connection) => { resolve(check(connection)); }));
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => { this.server.close(() => { resolve(); }); });
  }
}

function check(connection: GatewayConnection): GatewayConnection {
  if (connection.url !== CONNECT_PATH) throw new Error(`client connected to ${connection.url}, expected ${CONNECT_PATH}`);
  return connection;
}
