import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { watchRedis } from '../connection-watch.js';
import type { ServiceContext } from '../context.js';
import { SesameError } from '../errors.js';

/**
 * Per-key request limits (default 100/min, overridable per key) and a stricter per-IP limit on
 * auth endpoints. With REDIS_URL the counters live in Redis so every api replica shares them.
 */
export async function installRateLimits(app: FastifyInstance, ctx: ServiceContext) {
  const redis = ctx.config.REDIS_URL ? new Redis(ctx.config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false }) : undefined;
  // Counting is skipped while Redis is down (skipOnError); the watch says so once per outage.
  if (redis && ctx.config.REDIS_URL) watchRedis(redis, ctx.logger, 'rate-limits', ctx.config.REDIS_URL);
  if (redis) app.addHook('onClose', async () => { redis.disconnect(); });
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    timeWindow: 60_000,
    redis,
    nameSpace: 'sesame-rl:',
    skipOnError: true,
    max: (request) => request.auth?.apiKey?.rateLimitPerMinute ?? ctx.config.SESAME_RATE_LIMIT_PER_MINUTE,
    keyGenerator: (request) => request.auth?.apiKey ? `key:${request.auth.apiKey.id}` : request.auth ? `pr:${request.auth.principal.id}` : `ip:${request.ip}`,
    errorResponseBuilder: (_request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      return new SesameError('rate-limited', `Rate limit of ${context.max} requests per minute exceeded; retry in ${retryAfter}s`, { retryAfter });
    },
  });
}

/** Route config for auth endpoints: 10 attempts per minute per client address. */
export function authRateLimit(ctx: ServiceContext) {
  return { max: ctx.config.SESAME_AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: 60_000, keyGenerator: (request: { ip: string }) => `auth:${request.ip}` };
}
