import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServiceContext } from '../context.js';
import { SesameError } from '../errors.js';
import { createRedisClient, redisTarget } from '../redis-client.js';
import { SharedRateCounter, type RateCount } from './shared-rate-counter.js';

/** Reads get their own, larger budget: an agent looking things up per message must still send. */
export type RateBudget = 'read' | 'write';

function rateBudgetOf(method: string): RateBudget {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

/**
 * Per-caller request limits per minute, in two budgets counted apart so reads never exhaust
 * writes: reads (GET, HEAD) `SESAME_READ_RATE_LIMIT_PER_MINUTE` (never less than the write
 * limit), everything else `SESAME_RATE_LIMIT_PER_MINUTE`. A key's own `rateLimitPerMinute` replaces both defaults (still
 * two counters). Callers are counted per API key, else per principal (tokens), else per address.
 * Auth endpoints have a stricter per-address limit (`authRateLimit`).
 *
 * With REDIS_URL (or REDIS_CLUSTER_NODES) the counters live in Redis, so every api replica
 * shares one budget per caller. Each counter is one key, so on a cluster each lands on its
 * slot's master. A request far from its caller's limit is counted in this process and synced to
 * Redis in the background (`SharedRateCounter`: no Redis round trip per request, a bounded
 * overshoot across replicas); near the limit each request is counted in Redis first.
 */
export async function installRateLimits(app: FastifyInstance, ctx: ServiceContext) {
  const { SESAME_RATE_LIMIT_PER_MINUTE, SESAME_READ_RATE_LIMIT_PER_MINUTE } = ctx.config;
  const target = redisTarget(ctx.config);
  // Counting is skipped while Redis is down (skipOnError); the watch says so once per outage.
  const redis = target ? createRedisClient(target, ctx.logger, 'rate-limits', { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true }) : undefined;
  const counter = redis ? new SharedRateCounter(redis) : undefined;
  if (redis && counter) {
    counter.start();
    app.addHook('onClose', async () => {
      await counter.stop().catch(() => {});
      redis.disconnect();
    });
    // Without the offline queue a command sent before the connection is up fails, and is not
    // counted: connect first, so a fresh replica counts its first requests too. A Redis that
    // is down at start does not stop the api (the client keeps reconnecting).
    await redis.connect().catch(() => {});
  }
  // Reads are never budgeted below writes: raising the write limit raises both.
  const defaults: Record<RateBudget, number> = { read: Math.max(SESAME_READ_RATE_LIMIT_PER_MINUTE, SESAME_RATE_LIMIT_PER_MINUTE), write: SESAME_RATE_LIMIT_PER_MINUTE };
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    // Without Redis: the plugin's in-process counters (one process is the whole budget).
    ...(counter ? { store: sharedRateStore(counter, 'sesame-rl:') } : {}),
    skipOnError: true,
    max: (request) => request.auth?.apiKey?.rateLimitPerMinute ?? defaults[rateBudgetOf(request.method)],
    keyGenerator: (request) => `${rateBudgetOf(request.method)}:${callerKey(request)}`,
    errorResponseBuilder: (request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      const budget = rateBudgetOf(request.method) === 'read' ? 'read requests' : 'requests';
      return new SesameError('rate-limited', `Rate limit of ${context.max} ${budget} per minute exceeded; retry in ${retryAfter}s`, { retryAfter });
    },
  });
}

/**
 * @fastify/rate-limit's store over a `SharedRateCounter`, keyed as its Redis store keys: the
 * global budgets under `nameSpace`, a route's own limit (`authRateLimit`) under the route.
 */
function sharedRateStore(counter: SharedRateCounter, nameSpace: string): FastifyRateLimitStoreCtor {
  class SharedRateStore implements FastifyRateLimitStore {
    // The plugin constructs the store with its options (unused: the counter has its own).
    constructor(_options?: unknown, prefix?: string) { this.prefix = prefix ?? nameSpace; }
    private readonly prefix: string;

    incr(key: string, callback: (error: Error | null, result?: RateCount) => void, windowMs?: number, max?: number): void {
      try {
        const counted = counter.incr(this.prefix + key, windowMs ?? 60_000, max ?? Infinity);
        if (counted instanceof Promise) counted.then((result) => { callback(null, result); }, (err: unknown) => { callback(err instanceof Error ? err : new Error(String(err))); });
        else callback(null, counted);
      } catch (err) {
        callback(err instanceof Error ? err : new Error(String(err)));
      }
    }

    // Typed as the route's options; at run time the plugin passes its merged options, with the
    // route under `routeInfo`.
    child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
      const { routeInfo } = routeOptions as unknown as { routeInfo?: { method?: unknown; url?: unknown } };
      return new SharedRateStore(undefined, `${this.prefix}${String(routeInfo?.method)}${String(routeInfo?.url)}-`);
    }
  }
  return SharedRateStore;
}

function callerKey(request: FastifyRequest): string {
  if (request.auth?.apiKey) return `key:${request.auth.apiKey.id}`;
  if (request.auth) return `pr:${request.auth.principal.id}`;
  return `ip:${request.ip}`;
}

/** Route config for auth endpoints: 10 attempts per minute per client address. */
export function authRateLimit(ctx: ServiceContext) {
  return { max: ctx.config.SESAME_AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: 60_000, keyGenerator: (request: { ip: string }) => `auth:${request.ip}` };
}
