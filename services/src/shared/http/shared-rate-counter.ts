import type { RedisClient } from '../redis-client.js';

/**
 * Adds `ARGV[1]` to a window counter and starts its window (`ARGV[2]` ms) if it has none;
 * answers the new total and the window's remaining milliseconds. One key per call, so on a
 * cluster each counter lands on its slot's master.
 */
const COUNT_SCRIPT = `
local current = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {current, ttl}`;

/** Redis answers integers; typed loosely so a client that answers strings is still read right. */
type CountCommand = (key: string, amount: number, windowMs: number) => Promise<[number | string, number | string]>;

/** How often counts made in this process are added to the shared counters in Redis. */
const RATE_SYNC_INTERVAL_MS = 100;

/**
 * A request counted in this process is answered at once while its caller is far from the
 * limit: the caller's known total (from the last Redis reply) plus this process's unsynced
 * counts stays below half the limit, and the unsynced counts below this fraction of it.
 * Closer to the limit every request is counted in Redis before it is answered (exact).
 */
const LOCAL_SHARE_DIVISOR = 16;

/** Most callers counted at once in one process (the oldest go first). */
const MAX_COUNTERS = 100_000;

interface WindowCount {
  /** The shared total as Redis last answered it (every process's synced counts). */
  known: number;
  /** Counted here, not yet sent to Redis. */
  pending: number;
  /** Sent to Redis, reply not yet back. */
  inFlight: number;
  /** When the window ends (epoch ms), from Redis's TTL once known. */
  resetAt: number;
  windowMs: number;
}

export interface RateCount { current: number; ttl: number }

/**
 * Fixed-window request counters shared by every api replica through Redis, counted locally
 * first. Far from its limit a caller's requests are counted in this process and added to Redis
 * in one command per caller every `RATE_SYNC_INTERVAL_MS` (no Redis round trip on the request);
 * near it (half the limit) each request is counted in Redis before it is answered, as a plain
 * shared counter would.
 *
 * The approximation, bounded: a process holds at most limit/16 unsynced counts per caller, and
 * only while the shared total it last saw is under half the limit, so with R replicas a caller
 * gets at most (R − 1) × limit/16 requests beyond its limit in a window (none with one replica),
 * and a limit of 16 or less is always counted exactly. Counts that fail to reach Redis are
 * kept and sent again at the next sync; while Redis is unreachable each process enforces the
 * limit on its own counts (never failing open).
 */
export class SharedRateCounter {
  private readonly counts = new Map<string, WindowCount>();
  private readonly countCommand: CountCommand | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Without `redis` the counters are this process's alone (one process is the whole budget). */
  constructor(redis: RedisClient | undefined, private readonly now: () => number = Date.now) {
    if (!redis) return;
    if (!('sesameRateCount' in redis)) redis.defineCommand('sesameRateCount', { numberOfKeys: 1, lua: COUNT_SCRIPT });
    const command = (redis as unknown as { sesameRateCount: CountCommand }).sesameRateCount;
    this.countCommand = (key, amount, windowMs) => command.call(redis, key, amount, windowMs);
  }

  /** Starts the periodic sync (unref'd: it never keeps the process alive). */
  start(intervalMs = RATE_SYNC_INTERVAL_MS): void {
    this.timer ??= setInterval(() => { void this.flush(); }, intervalMs).unref();
  }

  /** Stops the periodic sync and sends what is still unsynced. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Counts one request of `key` against `max` per `windowMs`. */
  incr(key: string, windowMs: number, max: number): RateCount | Promise<RateCount> {
    const now = this.now();
    let count = this.counts.get(key);
    if (!count) {
      // Bounded: a flood of new callers (addresses) drops the oldest counters first.
      if (this.counts.size >= MAX_COUNTERS) this.counts.delete(this.counts.keys().next().value as string);
      count = { known: 0, pending: 0, inFlight: 0, resetAt: now + windowMs, windowMs };
      this.counts.set(key, count);
    } else if (now >= count.resetAt) {
      // The window ended (as far as this process knows): a new one starts with this request.
      // Counts of the old window still unsynced (at most one sync interval's) are dropped.
      count.known = 0;
      count.pending = 0;
      count.resetAt = now + windowMs;
    }
    const current = count.known + count.pending + count.inFlight + 1;
    if (!this.countCommand || (current < max / 2 && count.pending + 1 < max / LOCAL_SHARE_DIVISOR)) {
      count.pending++;
      return { current, ttl: count.resetAt - now };
    }
    // Near the limit: this request and the unsynced ones go to Redis now, and the answer waits.
    const amount = count.pending + 1;
    count.pending = 0;
    return this.send(key, count, amount).then(
      (reply) => reply,
      () => {
        // Redis unreachable: this process's count decides (the limit holds per process rather
        // than failing open — the auth limits guard passwords), and every count is kept for the
        // next sync.
        count.pending += amount;
        return { current: count.known + count.pending + count.inFlight, ttl: Math.max(0, count.resetAt - this.now()) };
      },
    );
  }

  /** Adds every caller's unsynced counts to Redis (one command each) and forgets ended windows. */
  async flush(): Promise<void> {
    const now = this.now();
    const sends: Array<Promise<unknown>> = [];
    for (const [key, count] of this.counts) {
      if (!this.countCommand) {
        if (now >= count.resetAt) this.counts.delete(key);
      } else if (count.pending > 0) {
        const amount = count.pending;
        count.pending = 0;
        sends.push(this.send(key, count, amount).catch(() => { count.pending += amount; }));
      } else if (count.inFlight === 0 && now >= count.resetAt) {
        this.counts.delete(key);
      }
    }
    await Promise.all(sends);
  }

  private async send(key: string, count: WindowCount, amount: number): Promise<RateCount> {
    if (!this.countCommand) throw new Error('no shared counters without Redis');
    count.inFlight += amount;
    try {
      const [total, ttl] = await this.countCommand(key, amount, count.windowMs);
      count.known = Number(total);
      count.resetAt = this.now() + Number(ttl);
      return { current: count.known, ttl: Number(ttl) };
    } finally {
      count.inFlight -= amount;
    }
  }
}
