import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharedRateCounter, type RateCount } from '../src/shared/http/shared-rate-counter.js';
import type { RedisClient } from '../src/shared/redis-client.js';
import { runsOnServices, requireServices } from './support/targets.js';

const WINDOW = 60_000;

/** Counts `n` requests of `key`, answering how many were within `max`. */
async function admitted(counter: SharedRateCounter, key: string, n: number, max: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) {
    const { current } = await counter.incr(key, WINDOW, max);
    if (current <= max) allowed++;
  }
  return allowed;
}

describe.skipIf(!runsOnServices())('shared rate counters (local counting, synced to Redis)', () => {
  // Two connections = two api processes sharing one Redis.
  let redisA: Redis;
  let redisB: Redis;
  beforeAll(() => {
    const { redisUrl } = requireServices();
    redisA = new Redis(redisUrl);
    redisB = new Redis(redisUrl);
  });
  afterAll(() => {
    redisA?.disconnect();
    redisB?.disconnect();
  });
  const total = async (key: string) => Number(await redisA.get(key));

  it('answers far from the limit without Redis, and adds the counts to Redis at the next sync', async () => {
    const counter = new SharedRateCounter(redisA);
    const key = `test-rl:${randomUUID()}`;
    const counts: RateCount[] = [];
    for (let i = 0; i < 5; i++) {
      const count = counter.incr(key, WINDOW, 1000);
      // Answered synchronously: no round trip on the request.
      expect(count).not.toBeInstanceOf(Promise);
      counts.push(count as RateCount);
    }
    expect(counts.map((c) => c.current)).toEqual([1, 2, 3, 4, 5]);
    expect(await total(key)).toBe(0);
    await counter.flush();
    expect(await total(key)).toBe(5);
    expect(await redisA.pttl(key)).toBeGreaterThan(0);
  });

  it('counts exactly in Redis when the limit is small (16 or less)', async () => {
    const counter = new SharedRateCounter(redisA);
    const key = `test-rl:${randomUUID()}`;
    for (let i = 1; i <= 4; i++) {
      const count = counter.incr(key, WINDOW, 16);
      expect(count).toBeInstanceOf(Promise);
      expect((await count).current).toBe(i);
      expect(await total(key)).toBe(i);
    }
  });

  it('two processes share one budget: each sees the other\'s synced counts and the limit holds across both', async () => {
    const a = new SharedRateCounter(redisA);
    const b = new SharedRateCounter(redisB);
    const key = `test-rl:${randomUUID()}`;
    const max = 160;
    // Each process counts 9 locally (fewer than limit/16 unsynced at a time), then syncs.
    expect(await admitted(a, key, 9, max)).toBe(9);
    await a.flush();
    expect(await admitted(b, key, 9, max)).toBe(9);
    await b.flush();
    expect(await total(key)).toBe(18);
    // Once it synced, a process's view includes the other's counts.
    expect((await b.incr(key, WINDOW, max)).current).toBe(19);
    expect((await a.incr(key, WINDOW, max)).current).toBe(10);
    await a.flush();
    // 9 + 10 synced, plus its own; b's last request is not synced yet.
    expect((await a.incr(key, WINDOW, max)).current).toBe(20);
    // Alternating between the processes, syncing as the timer would: the budget is shared, not
    // doubled, and once past half of it every request is counted in Redis (exact).
    let allowed = 21;
    for (let i = 0; i < 400; i++) {
      const counter = i % 2 ? a : b;
      const { current } = await counter.incr(key, WINDOW, max);
      if (current <= max) allowed++;
      if (i % 7 === 6) await Promise.all([a.flush(), b.flush()]);
    }
    await Promise.all([a.flush(), b.flush()]);
    expect(allowed).toBeGreaterThanOrEqual(max);
    // The documented bound: at most (replicas − 1) × limit/16 beyond the limit.
    expect(allowed).toBeLessThanOrEqual(max + max / 16);
    expect(await total(key)).toBe(421);
  });

  it('keeps counts that could not reach Redis and sends them at the next sync', async () => {
    // A Redis that refuses commands until it comes back (the counter's only command is its script).
    let down = true;
    new SharedRateCounter(redisA);
    const script = (redisA as unknown as { sesameRateCount: (...args: unknown[]) => Promise<unknown> }).sesameRateCount.bind(redisA);
    const flaky = {
      sesameRateCount: (...args: unknown[]) => (down ? Promise.reject(new Error('Connection is closed.')) : script(...args)),
      defineCommand: () => {},
    } as unknown as RedisClient;
    const counter = new SharedRateCounter(flaky);
    const key = `test-rl:${randomUUID()}`;
    expect(await admitted(counter, key, 3, 1000)).toBe(3);
    await counter.flush();
    expect(await total(key)).toBe(0);
    down = false;
    await counter.flush();
    expect(await total(key)).toBe(3);
  });

  it('holds the limit on this process\'s own counts while Redis is unreachable (never fails open)', async () => {
    const flaky = {
      sesameRateCount: () => Promise.reject(new Error('Connection is closed.')),
      defineCommand: () => {},
    } as unknown as RedisClient;
    const counter = new SharedRateCounter(flaky);
    const key = `test-rl:${randomUUID()}`;
    // A small limit (every request goes to Redis) and a larger one (near it they do).
    expect(await admitted(counter, key, 25, 10)).toBe(10);
    expect(await admitted(counter, `${key}:large`, 150, 100)).toBe(100);
  });

  it('starts a new window when the old one ended', async () => {
    let now = 1_000_000;
    const counter = new SharedRateCounter(redisA, () => now);
    const key = `test-rl:${randomUUID()}`;
    expect(await admitted(counter, key, 3, 1000)).toBe(3);
    now += WINDOW;
    expect((await counter.incr(key, WINDOW, 1000)).current).toBe(1);
  });
});
