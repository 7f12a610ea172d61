import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fullJitterDelay, sleep } from '../src/backoff.js';

const attempt = fc.integer({ min: -5, max: 80 });
const baseMs = fc.integer({ min: 1, max: 10_000 });
const capMs = fc.integer({ min: 1, max: 10_000_000 });
/** What `Math.random` may return: [0, 1). */
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

afterEach(() => { vi.useRealTimers(); });

describe('fullJitterDelay', () => {
  it('is a whole number of milliseconds in [0, min(cap, base·2^attempt)) for any attempt and random source', () => {
    fc.assert(fc.property(attempt, baseMs, capMs, unit, (n, base, cap, r) => {
      const delay = fullJitterDelay(n, base, cap, () => r);
      const ceiling = Math.min(cap, base * 2 ** Math.max(0, n));
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(ceiling);
      expect(delay).toBeLessThan(Math.max(ceiling, 1));
      // Full jitter: the delay is the random fraction of the ceiling, rounded down.
      expect(delay).toBe(Math.floor(r * ceiling));
    }));
  });

  it('spans the whole range: 0 for the smallest random value, just under the ceiling for the largest', () => {
    fc.assert(fc.property(attempt, baseMs, capMs, (n, base, cap) => {
      const ceiling = Math.min(cap, base * 2 ** Math.max(0, n));
      expect(fullJitterDelay(n, base, cap, () => 0)).toBe(0);
      expect(fullJitterDelay(n, base, cap, () => 1 - Number.EPSILON)).toBe(ceiling - 1);
    }));
  });

  it('doubles the ceiling per attempt until the cap, and treats negative attempts as the first', () => {
    const top = () => 1 - Number.EPSILON;
    expect([0, 1, 2, 3, 4, 5].map((n) => fullJitterDelay(n, 100, 2_000, top) + 1)).toEqual([100, 200, 400, 800, 1_600, 2_000]);
    expect(fullJitterDelay(-3, 100, 2_000, top)).toBe(99);
    expect(fullJitterDelay(3, 100, 2_000, () => 0.5)).toBe(400);
    expect(fullJitterDelay(1_000, 100, 2_000, () => 0.25)).toBe(500);
  });

  it('uses Math.random when no random source is given', () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      expect(fullJitterDelay(2, 100, 10_000)).toBe(200);
      expect(random).toHaveBeenCalledTimes(1);
    } finally {
      random.mockRestore();
    }
    fc.assert(fc.property(attempt, baseMs, capMs, (n, base, cap) => {
      const delay = fullJitterDelay(n, base, cap);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(Math.min(cap, base * 2 ** Math.max(0, n)));
    }));
  });
});

describe('sleep', () => {
  it('resolves once the given time has passed, not before', async () => {
    vi.useFakeTimers();
    let done = false;
    const slept = sleep(1_000).then(() => { done = true; });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });
});
