import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ServiceContext } from '../shared/context.js';

/** Builds the realtime gateway app without listening. */
export async function buildGateway(ctx: ServiceContext): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: ctx.logger as FastifyBaseLogger });
  await app.register(websocket);
  app.get('/health', async () => ({ status: 'healthy', timestamp: new Date().toISOString() }));
  return app;
}
