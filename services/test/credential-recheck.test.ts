import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConnectionRegistry, type RegisteredConnection } from '../src/gateway/connection-registry.js';
import type { ServiceContext } from '../src/shared/context.js';

const INTERVAL_MS = 60_000;

/** A registry on a bus that never delivers anything, with the default heartbeat and re-check interval. */
function registry(): ConnectionRegistry {
  const ctx = {
    config: { SESAME_HEARTBEAT_INTERVAL_MS: 30_000, SESAME_CREDENTIAL_RECHECK_INTERVAL_MS: INTERVAL_MS },
    bus: { subscribe: () => () => {}, onReconnect: () => () => {} },
    logger: { info: vi.fn(), warn: vi.fn() },
  } as unknown as ServiceContext;
  return new ConnectionRegistry(ctx);
}

/** An authenticated connection that records when its credential was re-checked (fake time). */
function connection(checks: number[]): RegisteredConnection {
  return {
    lastSeenAt: undefined,
    lastValidatedAt: Date.now(),
    isOpen: true,
    identity: { principal: { id: 'prn_1' }, stillValid: () => { checks.push(Date.now()); return Promise.resolve(true); } },
    fail: vi.fn(),
    close: vi.fn(),
  };
}

describe('credential re-checks', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('spreads the re-checks of connections opened together over the interval, never later than it', async () => {
    vi.useFakeTimers();
    const connections = registry();
    const opened = Date.now();
    const checks = Array.from({ length: 200 }, () => [] as number[]);
    for (const seen of checks) connections.add(connection(seen));
    await vi.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    connections.closeAll();
    // Each connection re-checked at least every interval (a sweep's step late at most)…
    for (const seen of checks) {
      expect(seen.length).toBeGreaterThanOrEqual(3);
      [opened, ...seen].slice(1).forEach((at, i) => { expect(at - [opened, ...seen][i]).toBeLessThanOrEqual(INTERVAL_MS + 1_000); });
    }
    // …but not all in the same sweep: the first re-checks fall in many different seconds.
    const seconds = new Set(checks.map((seen) => Math.floor((seen[0] - opened) / 1_000)));
    expect(seconds.size).toBeGreaterThan(10);
  });

  it('a re-check that never answers holds the others back for one interval at most', async () => {
    vi.useFakeTimers();
    const connections = registry();
    const stuck: RegisteredConnection = { ...connection([]), identity: { principal: { id: 'prn_stuck' }, stillValid: () => new Promise<boolean>(() => {}) } };
    stuck.lastValidatedAt = Date.now() - INTERVAL_MS; // due at the first sweep
    connections.add(stuck);
    const checks: number[] = [];
    connections.add(connection(checks));
    await vi.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    connections.closeAll();
    // The other connection is still re-checked, about every interval.
    expect(checks.length).toBeGreaterThanOrEqual(2);
  });
});
