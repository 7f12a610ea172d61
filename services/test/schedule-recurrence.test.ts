import { describe, expect, it } from 'vitest';
import { SesameError } from '../src/shared/errors.js';
import { parseCron, slotAfter, slotsBetween, type Recurrence } from '../src/shared/schedules/recurrence.js';

const ny = (expression: string): Recurrence => ({ kind: 'cron', expression, timezone: 'America/New_York' });
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

function refusal(run: () => unknown): { status: number; detail: string; field: unknown } {
  try {
    run();
  } catch (err) {
    if (err instanceof SesameError) return { status: err.status, detail: err.message, field: err.extensions.field };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('schedule recurrence (croner)', () => {
  it('30 2 * * * in New York on the spring-forward day runs once, an hour later (02:30 does not exist)', () => {
    const { slots } = slotsBetween(ny('30 2 * * *'), new Date('2026-03-07T00:00:00Z'), new Date('2026-03-10T00:00:00Z'), 10);
    // 03-07 02:30 EST, 03-08 03:30 EDT (02:30 skipped by the clock change), 03-09 02:30 EDT.
    expect(iso(slots)).toEqual(['2026-03-07T07:30:00.000Z', '2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z']);
  });

  it('30 2 * * * in New York on the fall-back day runs exactly once, at 02:30 EST', () => {
    const { slots } = slotsBetween(ny('30 2 * * *'), new Date('2026-10-31T00:00:00Z'), new Date('2026-11-03T00:00:00Z'), 10);
    expect(iso(slots)).toEqual(['2026-10-31T06:30:00.000Z', '2026-11-01T07:30:00.000Z', '2026-11-02T07:30:00.000Z']);
  });

  it('30 1 * * * on the fall-back day (01:30 happens twice) runs once', () => {
    const { slots } = slotsBetween(ny('30 1 * * *'), new Date('2026-11-01T00:00:00Z'), new Date('2026-11-02T00:00:00Z'), 10);
    expect(slots).toHaveLength(1);
  });

  it('0 9 * * 1-5 stays at 09:00 New York time across both transitions, weekdays only', () => {
    const spring = slotsBetween(ny('0 9 * * 1-5'), new Date('2026-03-05T00:00:00Z'), new Date('2026-03-11T00:00:00Z'), 10).slots;
    expect(iso(spring)).toEqual(['2026-03-05T14:00:00.000Z', '2026-03-06T14:00:00.000Z', '2026-03-09T13:00:00.000Z', '2026-03-10T13:00:00.000Z']);
    const fall = slotsBetween(ny('0 9 * * MON-FRI'), new Date('2026-10-29T00:00:00Z'), new Date('2026-11-04T00:00:00Z'), 10).slots;
    expect(iso(fall)).toEqual(['2026-10-29T13:00:00.000Z', '2026-10-30T13:00:00.000Z', '2026-11-02T14:00:00.000Z', '2026-11-03T14:00:00.000Z']);
  });

  it('leap days: 29 February only in leap years, and the last day of February either way', () => {
    const leap = slotsBetween({ kind: 'cron', expression: '0 12 29 2 *', timezone: 'UTC' }, new Date('2026-01-01T00:00:00Z'), new Date('2033-01-01T00:00:00Z'), 10).slots;
    expect(iso(leap)).toEqual(['2028-02-29T12:00:00.000Z', '2032-02-29T12:00:00.000Z']);
    const lastDay = slotsBetween({ kind: 'cron', expression: '0 0 L 2 *', timezone: 'UTC' }, new Date('2027-01-01T00:00:00Z'), new Date('2029-01-01T00:00:00Z'), 10).slots;
    expect(iso(lastDay)).toEqual(['2027-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z']);
  });

  it('reads 6 fields (seconds first), steps, ranges, names and nicknames', () => {
    expect(slotAfter({ kind: 'cron', expression: '*/20 * * * * *', timezone: 'UTC' }, new Date('2026-01-01T00:00:05Z'))?.toISOString()).toBe('2026-01-01T00:00:20.000Z');
    expect(slotAfter({ kind: 'cron', expression: '0 8-10/2 * JAN,FEB SAT', timezone: 'UTC' }, new Date('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-01-03T08:00:00.000Z');
    expect(slotAfter({ kind: 'cron', expression: '@daily', timezone: 'Europe/Berlin' }, new Date('2026-07-01T12:00:00Z'))?.toISOString()).toBe('2026-07-01T22:00:00.000Z');
  });

  it('refuses invalid expressions and unknown zones with a 422 naming the field and the reason', () => {
    expect(refusal(() => parseCron('61 * * * *', 'UTC'))).toMatchObject({ status: 422, field: 'cronExpression', detail: expect.stringMatching(/^cronExpression: .*minute.*61/) as unknown });
    expect(refusal(() => parseCron('* * *', 'UTC'))).toMatchObject({ status: 422, detail: expect.stringContaining('expected 5 fields') as unknown });
    expect(refusal(() => parseCron('0 0 * * * * 2027', 'UTC'))).toMatchObject({ status: 422, detail: expect.stringContaining('got 7') as unknown });
    // Parses, but has no slot: the service refuses it when computing the next run (schedules.test.ts).
    expect(slotAfter({ kind: 'cron', expression: '0 0 31 2 *', timezone: 'UTC' }, new Date())).toBeNull();
    expect(refusal(() => parseCron('0 9 * * *', 'Mars/Olympus', 'events[1].'))).toMatchObject({ status: 422, field: 'events[1].timezone', detail: expect.stringContaining("unknown IANA time zone 'Mars/Olympus'") as unknown });
  });

  it('intervals step from their anchor; a one-shot has one slot', () => {
    const every = { kind: 'interval' as const, intervalMs: 3_600_000, anchor: new Date('2026-01-01T00:30:00Z') };
    expect(slotAfter(every, new Date('2026-01-01T05:00:00Z'))?.toISOString()).toBe('2026-01-01T05:30:00.000Z');
    expect(slotAfter(every, new Date('2026-01-01T05:30:00Z'))?.toISOString()).toBe('2026-01-01T06:30:00.000Z');
    expect(slotAfter(every, new Date('2025-12-31T00:00:00Z'))?.toISOString()).toBe('2026-01-01T00:30:00.000Z');
    const once = { kind: 'once' as const, at: new Date('2026-03-15T02:00:00Z') };
    expect(slotsBetween(once, new Date('2026-03-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), 5).slots).toHaveLength(1);
    expect(slotAfter(once, new Date('2026-03-15T02:00:00Z'))).toBeNull();
  });
});
