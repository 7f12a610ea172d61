import { Cron } from 'croner';
import { unprocessable } from '../errors.js';

/**
 * When a schedule event runs: a cron expression in an IANA time zone, a fixed interval from an
 * anchor, or once. Cron arithmetic (ranges, steps, names, DST, leap days) is croner's — the
 * library OpenClaw itself schedules with, so both sides agree on every slot.
 */
export type Recurrence =
  | { kind: 'cron'; expression: string; timezone: string }
  | { kind: 'interval'; intervalMs: number; anchor: Date }
  | { kind: 'once'; at: Date | null };

const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly']);
const CACHE_LIMIT = 10_000;
const cache = new Map<string, Cron>();

/** An IANA zone name Node's ICU knows (`America/New_York`, `UTC`); otherwise a 422 naming the field. */
export function assertTimeZone(timezone: string, field = 'timezone'): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw unprocessable(`${field}: unknown IANA time zone '${timezone}' (e.g. 'America/New_York', 'Europe/Berlin', 'UTC')`, { field });
  }
}

/**
 * The parsed expression, or a 422 naming the field and why: 5 fields (minute hour day month
 * weekday) or 6 (seconds first) and `@daily`-style nicknames. Whether it ever fires (`0 0 31 2 *`
 * does not) is for the caller computing its next run: croner's next-run computation is the
 * expensive part (about a millisecond with a time zone), so it is done once, not twice.
 */
export function parseCron(expression: string, timezone: string, prefix = ''): Cron {
  const key = `${timezone}\u0000${expression}`;
  const cached = cache.get(key);
  if (cached) return cached;
  assertTimeZone(timezone, `${prefix}timezone`);
  const field = `${prefix}cronExpression`;
  const trimmed = expression.trim();
  const fields = trimmed.split(/\s+/);
  if (!(fields.length === 1 && NICKNAMES.has(trimmed.toLowerCase())) && fields.length !== 5 && fields.length !== 6) {
    throw unprocessable(`${field}: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got ${fields.length}`, { field });
  }
  let cron: Cron;
  try {
    cron = new Cron(trimmed, { timezone });
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    throw unprocessable(`${field}: ${reason}`, { field });
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, cron);
  return cron;
}

/** The recurrence of a stored event. */
export function recurrenceOf(row: { cron_expression: string | null; interval_ms: number | null; timezone: string; anchor_at: Date | null; next_occurrence_at: Date | null; created_at: Date }): Recurrence {
  if (row.cron_expression !== null) return { kind: 'cron', expression: row.cron_expression, timezone: row.timezone };
  if (row.interval_ms !== null) return { kind: 'interval', intervalMs: row.interval_ms, anchor: row.anchor_at ?? row.created_at };
  return { kind: 'once', at: row.next_occurrence_at };
}

/** The first slot strictly after `after`, or null when there is none (a one-shot already past). */
export function slotAfter(rule: Recurrence, after: Date): Date | null {
  switch (rule.kind) {
    case 'cron':
      return parseCron(rule.expression, rule.timezone).nextRun(after);
    case 'interval': {
      const anchor = rule.anchor.getTime();
      if (after.getTime() < anchor) return new Date(anchor);
      const steps = Math.floor((after.getTime() - anchor) / rule.intervalMs) + 1;
      return new Date(anchor + steps * rule.intervalMs);
    }
    case 'once':
      return rule.at && rule.at.getTime() > after.getTime() ? rule.at : null;
  }
}

/** The first slot at or after `from`. */
export function slotFrom(rule: Recurrence, from: Date): Date | null {
  return slotAfter(rule, new Date(from.getTime() - 1));
}

/** Slots in `[from, to)`, at most `max`; `more` says whether the range held further slots. */
export function slotsBetween(rule: Recurrence, from: Date, to: Date, max: number): { slots: Date[]; more: boolean } {
  const slots: Date[] = [];
  let slot = slotFrom(rule, from);
  while (slot && slot.getTime() < to.getTime()) {
    if (slots.length === max) return { slots, more: true };
    slots.push(slot);
    slot = slotAfter(rule, slot);
  }
  return { slots, more: false };
}
