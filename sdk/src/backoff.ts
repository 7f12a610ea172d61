/**
 * Full-jitter capped exponential backoff: a random delay in [0, min(cap, base·2^attempt)].
 * Jitter spreads a crowd of clients that failed together (a restarted server) over time.
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
