const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `5s,5m,30m,2h` (SESAME_WEBHOOK_RETRY_SCHEDULE, validated by the config schema) as milliseconds. */
export function parseRetrySchedule(text: string): number[] {
  return text.split(',').map((part) => {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(part.trim());
    if (!match) throw new Error(`SESAME_WEBHOOK_RETRY_SCHEDULE: "${part}" is not a delay such as 5s`);
    return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  });
}

/** ±20 %: spreads the retries of many deliveries that failed together. */
export function jittered(delayMs: number, random: () => number): number {
  return Math.round(delayMs * (0.8 + 0.4 * random()));
}

/** The longest wait a receiver's `Retry-After` may ask for. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** `Retry-After` as delay-seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: Date): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now.getTime();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
