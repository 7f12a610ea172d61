import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceContext } from '../context.js';
import { SesameError } from '../errors.js';
import { createRedisClient, redisTarget } from '../redis-client.js';
import { SharedRateCounter, type RateCount } from './shared-rate-counter.js';
import { addressKey } from './client-address.js';

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
  // Counting is skipped while Redis is down; the watch says so once per outage.
  const redis = target ? createRedisClient(target, ctx.logger, 'rate-limits', { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true }) : undefined;
  const counter = new SharedRateCounter(redis);
  counter.start();
  app.addHook('onClose', async () => {
    await counter.stop().catch(() => {});
    redis?.disconnect();
  });
  // Without the offline queue a command sent before the connection is up fails, and is not
  // counted: connect first, so a fresh replica counts its first requests too. A Redis that
  // is down at start does not stop the api (the client keeps reconnecting).
  if (redis) await redis.connect().catch(() => {});
  // Reads are never budgeted below writes: raising the write limit raises both.
  const defaults: Record<RateBudget, number> = { read: Math.max(SESAME_READ_RATE_LIMIT_PER_MINUTE, SESAME_RATE_LIMIT_PER_MINUTE), write: SESAME_RATE_LIMIT_PER_MINUTE };
  const defaultPolicies: Record<RateBudget, Policy> = { read: policyOf('read', defaults.read, WINDOW_MS), write: policyOf('write', defaults.write, WINDOW_MS) };

  // Every route registered from here on is counted before its handler (after authentication,
  // which tells whose budget it is): its own limit if it declares one, else the caller's budget.
  app.addHook('onRoute', (route) => {
    const own = route.config?.rateLimit;
    // Never limited (health): nothing counted, no limit headers.
    if (own === false) return;
    const routePrefix = own ? `${NAMESPACE}${String(route.method)}${route.url}-` : '';
    const ownPolicy = own ? policyOf(own.policy ?? 'default', own.max, own.timeWindow) : undefined;
    const limit: FastifyRouteHook = (request, reply, done) => {
      let key: string;
      let policy: Policy;
      if (own && ownPolicy) {
        key = routePrefix + own.keyGenerator(request);
        policy = ownPolicy;
      } else {
        const budget = rateBudgetOf(request.method);
        key = callerKey(request, budget);
        const keyLimit = request.auth?.apiKey?.rateLimitPerMinute;
        policy = keyLimit == null ? defaultPolicies[budget] : policyOf(budget, keyLimit, WINDOW_MS);
      }
      let counted: RateCount | Promise<RateCount>;
      try {
        counted = counter.incr(key, policy.windowMs, policy.max);
      } catch {
        done();
        return;
      }
      // Far from the limit the answer is at hand (no promise, no tick); near it Redis decides,
      // or this process's own count while Redis is unreachable.
      if (counted instanceof Promise) counted.then((count) => { decide(request, reply, done, policy, count); }, () => { done(); });
      else decide(request, reply, done, policy, counted);
    };
    route.preHandler = route.preHandler ? [...[route.preHandler].flat(), limit] : [limit];
  });
}

/**
 * A limit as the IETF RateLimit fields name it (draft-ietf-httpapi-ratelimit-headers): its
 * `RateLimit-Policy` value, the same for every request counted on it, made once per limit.
 */
interface Policy { readonly name: string; readonly max: number; readonly windowMs: number; readonly field: string }
const policies = new Map<string, Map<string, Policy>>();
function policyOf(name: string, max: number, windowMs: number): Policy {
  let byLimit = policies.get(name);
  if (!byLimit) policies.set(name, byLimit = new Map<string, Policy>());
  const windowSeconds = Math.ceil(windowMs / 1000);
  const limit = `${String(max)}/${String(windowMs)}`;
  let policy = byLimit.get(limit);
  if (!policy) {
    // Structured Fields: an sf-string item (the budget's name) with its quota and window (seconds).
    byLimit.set(limit, policy = { name, max, windowMs, field: `"${name}";q=${String(max)};w=${String(windowSeconds)}` });
    // Bounded: one entry per distinct limit (keys' own limits included); a pathological spread is dropped.
    if (byLimit.size > 1000) byLimit.clear();
  }
  return policy;
}

/**
 * Answers a counted request: its limit fields (`RateLimit-Policy`: quota and window;
 * `RateLimit`: what is left and the seconds until the window resets), then on (within the
 * limit) or a 429.
 */
function decide(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void, policy: Policy, { current, ttl }: RateCount): void {
  const resetSeconds = Math.ceil(ttl / 1000);
  const max = policy.max;
  reply.header('ratelimit-policy', policy.field);
  reply.header('ratelimit', `"${policy.name}";r=${Math.max(0, max - current)};t=${resetSeconds}`);
  if (current <= max) {
    done();
    return;
  }
  const retryAfter = Math.max(1, resetSeconds);
  const what = rateBudgetOf(request.method) === 'read' ? 'read requests' : 'requests';
  done(new SesameError('rate-limited', `Rate limit of ${max} ${what} per minute exceeded; retry in ${retryAfter}s`, { retryAfter }));
}

type FastifyRouteHook = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void;

const NAMESPACE = 'sesame-rl:';
const WINDOW_MS = 60_000;

/** A caller's two counter keys (`sesame-rl:<budget>:<caller>`), made once per caller. */
interface CallerKeys { read: string; write: string }
function keysOf(caller: string): CallerKeys {
  return { read: `${NAMESPACE}read:${caller}`, write: `${NAMESPACE}write:${caller}` };
}

/**
 * Callers' keys, remembered so a request looks its key up instead of building it (and V8
 * hashing a new string for the counter's map): per API key and per principal on their cached
 * credential's objects (gone with them), per address in a bounded map.
 */
const keysByCredential = new WeakMap<object, CallerKeys>();
const keysByAddress = new Map<string, CallerKeys>();
const MAX_ADDRESS_KEYS = 10_000;

function callerKey(request: FastifyRequest, budget: RateBudget): string {
  const auth = request.auth;
  if (auth) {
    const owner = auth.apiKey ?? auth.principal;
    let keys = keysByCredential.get(owner);
    if (!keys) keysByCredential.set(owner, keys = keysOf(auth.apiKey ? `key:${auth.apiKey.id}` : `pr:${auth.principal.id}`));
    return keys[budget];
  }
  const ip = request.ip;
  let keys = keysByAddress.get(ip);
  if (!keys) {
    if (keysByAddress.size >= MAX_ADDRESS_KEYS) keysByAddress.clear();
    keysByAddress.set(ip, keys = keysOf(`ip:${addressKey(ip)}`));
  }
  return keys[budget];
}

/** A route's own limit, instead of the caller's budget (`config.rateLimit`). */
interface RouteRateLimit {
  /** The policy's name in the `RateLimit` fields (`default` if none). */
  policy?: string;
  max: number;
  /** Window length, ms. */
  timeWindow: number;
  /** Whose counter a request counts on. */
  keyGenerator: (request: FastifyRequest) => string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route's own limit (auth endpoints: per address), replacing the caller budgets; `false`:
     * never limited (health: a load balancer or orchestrator probing from one address must never
     * read a 429 as "unhealthy").
     */
    rateLimit?: RouteRateLimit | false;
  }
}

/** Route config for auth endpoints: 10 attempts per minute per client address. */
export function authRateLimit(ctx: ServiceContext): RouteRateLimit {
  return { policy: 'auth', max: ctx.config.SESAME_AUTH_RATE_LIMIT_PER_MINUTE, timeWindow: WINDOW_MS, keyGenerator: (request) => `auth:${addressKey(request.ip)}` };
}
