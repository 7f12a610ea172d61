import type { ServiceContext } from '../context.js';
import { SesameError } from '../errors.js';
import type { Logger } from '../logger.js';
import { createRedisClient, redisTarget, type RedisClient } from '../redis-client.js';
import { sha256 } from './secrets.js';

/**
 * Failed password logins counted per account (the email, lower-cased), on top of the per-address
 * limit of every auth endpoint: an attacker rotating addresses still gets at most
 * `SESAME_LOGIN_MAX_FAILURES` guesses at one account per `SESAME_LOGIN_FAILURE_WINDOW_SECONDS`.
 * Emails that match no account are counted the same way, so the throttle reveals nothing about
 * which exist. A successful login clears the account's count.
 *
 * With REDIS_URL (or REDIS_CLUSTER_NODES: one key per account, so any slot) the counters live in Redis (every api replica sees the same count), keyed by a
 * hash of the email, never the email itself; otherwise in this process's memory.
 */
export interface LoginThrottle {
  /** Throws 429 (with `retryAfter`) while the account has used up its failures. */
  assertAllowed(email: string): Promise<void>;
  recordFailure(email: string): Promise<void>;
  recordSuccess(email: string): Promise<void>;
  close(): Promise<void>;
}

export interface LoginThrottleLimits { maxFailures: number; windowMs: number }

function accountKey(email: string): string {
  return `sesame-login:${sha256(email.trim().toLowerCase())}`;
}

function throttled(retryAfterMs: number): SesameError {
  const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new SesameError('rate-limited', `Too many failed sign-in attempts for this account; retry in ${retryAfter}s`, { retryAfter });
}

/** Fixed-window counters in a Map; expired windows are dropped as they are met. */
class MemoryLoginThrottle implements LoginThrottle {
  private readonly windows = new Map<string, { failures: number; resetAt: number }>();

  constructor(private readonly limits: LoginThrottleLimits, private readonly now: () => number = Date.now) {}

  private current(key: string) {
    const window = this.windows.get(key);
    if (window && window.resetAt <= this.now()) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  async assertAllowed(email: string) {
    const window = this.current(accountKey(email));
    if (window && window.failures >= this.limits.maxFailures) throw throttled(window.resetAt - this.now());
  }

  async recordFailure(email: string) {
    const key = accountKey(email);
    const window = this.current(key);
    if (window) window.failures++;
    else this.windows.set(key, { failures: 1, resetAt: this.now() + this.limits.windowMs });
    if (this.windows.size > 10_000) this.sweep();
  }

  async recordSuccess(email: string) {
    this.windows.delete(accountKey(email));
  }

  async close() { this.windows.clear(); }

  private sweep() {
    const now = this.now();
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * The same counters in Redis: INCR, with the window's expiry set by the failure that opens it.
 * While Redis is unreachable logins are not throttled per account (the per-address limit still
 * holds), as the request rate limits do: an outage must not lock every human out.
 */
class RedisLoginThrottle implements LoginThrottle {
  constructor(private readonly redis: RedisClient, private readonly limits: LoginThrottleLimits, private readonly logger: Logger) {}

  async assertAllowed(email: string) {
    const key = accountKey(email);
    let failures: string | null;
    let ttl: number;
    try {
      [failures, ttl] = await Promise.all([this.redis.get(key), this.redis.pttl(key)]);
    } catch (err) {
      this.logger.debug({ err }, 'login throttle unavailable; not counting');
      return;
    }
    // A count left without expiry (the process died between INCR and PEXPIRE) gets one now.
    if (failures !== null && ttl === -1) await this.redis.pexpire(key, this.limits.windowMs).catch(() => undefined);
    if (failures !== null && Number(failures) >= this.limits.maxFailures) throw throttled(ttl > 0 ? ttl : this.limits.windowMs);
  }

  async recordFailure(email: string) {
    const key = accountKey(email);
    try {
      const failures = await this.redis.incr(key);
      // The failure that opens the window sets its expiry.
      if (failures === 1) await this.redis.pexpire(key, this.limits.windowMs);
    } catch (err) {
      this.logger.debug({ err }, 'login throttle unavailable; not counting');
    }
  }

  async recordSuccess(email: string) {
    await this.redis.del(accountKey(email)).catch(() => undefined);
  }

  async close() { this.redis.disconnect(); }
}

/** The throttle the api uses: in Redis when REDIS_URL is set, in memory otherwise. */
export function createLoginThrottle(ctx: ServiceContext): LoginThrottle {
  const limits = { maxFailures: ctx.config.SESAME_LOGIN_MAX_FAILURES, windowMs: ctx.config.SESAME_LOGIN_FAILURE_WINDOW_SECONDS * 1000 };
  const target = redisTarget(ctx.config);
  if (!target) return new MemoryLoginThrottle(limits);
  // The offline queue keeps the failures of the first requests (before the connection is
  // ready) counted; with Redis down, a command fails after one reconnect attempt and is skipped.
  const redis = createRedisClient(target, ctx.logger, 'login-throttle', { maxRetriesPerRequest: 1 });
  return new RedisLoginThrottle(redis, limits, ctx.logger);
}
