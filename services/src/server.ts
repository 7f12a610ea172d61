import type { FastifyInstance } from 'fastify';
import { fileURLToPath } from 'node:url';
import { buildApp } from './api/app.js';
import { buildGateway } from './gateway/app.js';
import { eventStreamRoute } from './gateway/event-stream-route.js';
import { RealtimeNode } from './gateway/realtime-node.js';
import { presenceRoute } from './api/routes/presence.js';
import { LocalDiskBlobStore } from './shared/blob-store.js';
import { bootstrapFirstAdmin } from './shared/bootstrap.js';
import { createBus } from './shared/bus/index.js';
import { dataPaths, type Config } from './shared/config.js';
import type { ServiceContext } from './shared/context.js';
import { createDatabase } from './shared/db/database.js';
import { migrateToLatest } from './shared/db/migrate.js';
import { RedisPresenceReader } from './shared/presence/presence-reader.js';
import { TokenService } from './shared/auth/tokens.js';
import { createEventPublisher } from './shared/events.js';
import { createLogger } from './shared/logger.js';
import { redisTarget, verifyRedisAccess } from './shared/redis-client.js';
import { startWorker, type Worker } from './worker/worker.js';
import { serveMetrics } from './shared/metrics.js';

export type Role = 'api' | 'gateway' | 'worker';

/**
 * The console's build (`services/console/dist`): this module is `src/server.ts` under tsx and
 * bundled into `dist/cli.js` otherwise, one folder below the package either way.
 */
const CONSOLE_DIR = fileURLToPath(new URL('../console/dist/', import.meta.url));

export interface RunningServices {
  ctx: ServiceContext;
  api?: FastifyInstance;
  gateway?: FastifyInstance;
  worker?: Worker;
  apiUrl?: string;
  gatewayUrl?: string;
  /** The admin key generated on first start (only when no bootstrap key was configured). */
  generatedAdminKey?: string;
  stop(): Promise<void>;
}

/** Opens the database (migrating it) and the bus: what every role needs. */
export async function createContext(config: Config, name: string): Promise<ServiceContext> {
  const logger = createLogger(config.LOG_LEVEL, name);
  const redis = redisTarget(config);
  // Credentials or TLS that Redis refuses stop the start here, naming the variable (an
  // unreachable Redis does not: the clients retry as in any outage).
  if (redis) await verifyRedisAccess(redis);
  const paths = dataPaths(config);
  const db = createDatabase({ databaseUrl: config.DATABASE_URL, dataDir: paths.dbDir, poolSize: config.DATABASE_POOL_SIZE, poolMin: config.DATABASE_POOL_MIN, logger });
  await migrateToLatest(db);
  const bus = createBus(redis, logger, { limit: config.SESAME_BUS_BACKLOG_LIMIT });
  const tokens = await TokenService.create(db, config.SESAME_JWT_SECRET, config.SESAME_ACCESS_TOKEN_TTL_SECONDS, config.DATABASE_URL ? undefined : paths.jwtSecretFile);
  const publish = createEventPublisher(bus, (err) => { logger.warn({ err }, 'event publish failed; clients will repair the gap by replay'); });
  const blobs = new LocalDiskBlobStore(paths.blobDir);
  return { config, db, bus, tokens, publish, logger, blobs };
}

/** Starts the given roles in this process. `server.ts` is the only module that listens. */
export async function startServices(config: Config, roles: Role[]): Promise<RunningServices> {
  const ctx = await createContext(config, roles.length === 3 ? 'sesame' : `sesame-${roles.join('+')}`);
  const running: RunningServices = { ctx, stop: async () => {} };
  // With the gateway in this process, the api serves SSE (`/api/v1/events`) from the same node,
  // so a client that only knows apiUrl gets realtime too. A lone api leaves SSE to the gateways.
  const node = roles.includes('gateway') ? new RealtimeNode(ctx) : undefined;
  if (roles.includes('api')) {
    const boot = await bootstrapFirstAdmin(ctx.db, ctx.logger, config.SESAME_BOOTSTRAP_API_KEY);
    running.generatedAdminKey = boot.apiKey;
    const target = redisTarget(config);
    const presenceReader = node?.presence ?? (target ? new RedisPresenceReader(target, ctx.logger) : undefined);
    const extraRoutes = [...(node ? [eventStreamRoute(node)] : []), ...(presenceReader ? [presenceRoute(presenceReader)] : [])];
    running.api = await buildApp(ctx, { extraRoutes, consoleDir: CONSOLE_DIR, presence: presenceReader });
    if (presenceReader instanceof RedisPresenceReader) running.api.addHook('onClose', async () => { presenceReader.close(); });
    running.apiUrl = await running.api.listen({ port: config.PORT, host: config.HOST });
  }
  if (node) {
    running.gateway = await buildGateway(ctx, node);
    running.gatewayUrl = await running.gateway.listen({ port: config.GATEWAY_PORT, host: config.HOST });
  }
  if (roles.includes('worker')) running.worker = startWorker(ctx);
  // A worker alone has no HTTP edge: its counters get a /metrics of their own.
  const metricsServer = roles.length === 1 && roles[0] === 'worker' && config.SESAME_METRICS === 'on'
    ? await serveMetrics(config.WORKER_METRICS_PORT, config.HOST) : undefined;

  let stopping: Promise<void> | undefined;
  running.stop = () => (stopping ??= (async () => {
    // Stop accepting, let in-flight requests finish; gateway close tells clients to resume elsewhere.
    await Promise.allSettled([running.api?.close(), running.gateway?.close(), running.worker?.stop(),
      new Promise((resolve) => { if (metricsServer) metricsServer.close(resolve); else resolve(undefined); })]);
    await ctx.bus.close();
    await ctx.db.destroy();
  })());
  return running;
}
