import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../shared/context.js';
import { installAuthentication } from '../shared/http/authentication.js';
import { createHttpApp } from '../shared/http/create-http-app.js';
import { installOpenApi } from '../shared/http/openapi.js';
import { installRateLimits } from '../shared/http/rate-limits.js';
import { installConsole } from './console.js';
import type { RouteModule } from '../shared/http/typed-app.js';
import type { PresenceReader } from '../shared/presence/presence-reader.js';
import { agentRoutes } from './routes/agents/index.js';
import { auditRoutes } from './routes/audit/index.js';
import { authRoutes } from './routes/auth/index.js';
import { brokerRoutes } from './routes/broker/index.js';
import { channelRoutes } from './routes/channels/index.js';
import { messageRoutes } from './routes/channels/messages/index.js';
import { driveRoutes } from './routes/drive/index.js';
import { healthRoutes } from './routes/health.js';
import { inviteRoutes } from './routes/invites/index.js';
import { webhookRoutes } from './routes/webhooks/index.js';
import { keyRoutes } from './routes/keys/index.js';
import { manifestRoutes } from './routes/manifest.js';
import { principalRoutes } from './routes/principals/index.js';
import { profileRoutes } from './routes/profile/index.js';
import { scheduleRoutes } from './routes/schedules/index.js';
import { streamRoutes } from './routes/streams.js';
import { taskRoutes } from './routes/tasks/index.js';
import { vaultRoutes } from './routes/vaults/index.js';

/** Every `/api/v1` route module; later features append theirs here. */
const API_ROUTES: RouteModule[] = [
  healthRoutes, authRoutes, principalRoutes, keyRoutes, manifestRoutes, channelRoutes, messageRoutes, profileRoutes, streamRoutes, auditRoutes, driveRoutes,
  inviteRoutes, scheduleRoutes, taskRoutes, vaultRoutes, brokerRoutes, webhookRoutes,
];

export interface BuildAppOptions {
  /** Extra route modules mounted under /api/v1 (the gateway's SSE endpoint in single-process mode). */
  extraRoutes?: RouteModule[];
  /** Serve the human console (services/console's build) from this folder at `/`. */
  consoleDir?: string;
  /** Who is online, for discovery's ranking (`GET /agents/discover`); without it nobody is. */
  presence?: PresenceReader;
}

/** Builds the REST app without listening; server.ts is the only place that listens. */
export async function buildApp(ctx: ServiceContext, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = createHttpApp(ctx, { edge: 'api' });
  installAuthentication(app, ctx);
  await installRateLimits(app, ctx);
  await installOpenApi(app);
  await app.withTypeProvider<TypeBoxTypeProvider>().register(async (api) => {
    for (const routes of [...API_ROUTES, agentRoutes(options.presence), ...(options.extraRoutes ?? [])]) await routes(api, ctx);
  }, { prefix: '/api/v1' });
  if (options.consoleDir !== undefined) await installConsole(app, ctx, options.consoleDir);
  return app;
}
