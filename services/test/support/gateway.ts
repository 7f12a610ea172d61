import type { FastifyInstance } from 'fastify';
import { buildGateway } from '../../src/gateway/app.js';
import { RealtimeNode } from '../../src/gateway/realtime-node.js';
import type { ServiceContext } from '../../src/shared/context.js';

export interface TestGateway { app: FastifyInstance; node: RealtimeNode; url: string; httpUrl: string; close(): Promise<void> }

/** A gateway on a real port (WebSocket needs one) sharing the test api's context. */
export async function startTestGateway(ctx: ServiceContext): Promise<TestGateway> {
  const node = new RealtimeNode(ctx);
  const app = await buildGateway(ctx, node);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, node, httpUrl: address, url: address.replace(/^http/, 'ws'), close: () => app.close() };
}
