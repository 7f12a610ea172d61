import { SesameClient, UnprocessableEntityError, fromOpenClawJobs } from '@sesamespace/sdk';
import { inboxStream } from '@sesamespace/sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calendar, syncSchedule } from '../src/api/routes/schedules/service.js';
import type { Principal } from '../src/shared/db/schema.js';
import { readEvents } from '../src/shared/events.js';
import { flagMissedRuns } from '../src/worker/missed-schedules.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

const README_JOBS = [
  { externalId: 'daily-standup', title: 'Daily Standup Summary', cronExpression: '0 9 * * 1-5', timezone: 'America/New_York', nextOccurrenceAt: '2026-03-09T09:00:00-05:00' },
  { externalId: 'weekly-report', title: 'Weekly Analytics Report', cronExpression: '0 17 * * 5', timezone: 'America/New_York', nextOccurrenceAt: '2026-03-13T17:00:00-05:00' },
];

/** New York wall-clock parts of an instant. */
function newYork(iso: string) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value;
  return { weekday: part('weekday'), time: `${part('hour')}:${part('minute')}` };
}

describe.each(targets())('schedules on %s', (target) => {
  let api: TestApi;
  let agent: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let client: SesameClient;
  let otherClient: SesameClient;
  const principal = async (id: string) => api.ctx.db.selectFrom('principals').selectAll().where('id', '=', id).executeTakeFirstOrThrow() as Promise<Principal>;

  /** The SDK over inject(): the exact client calls, without listening on a port. */
  function sdk(apiKey: string) {
    return new SesameClient({
      apiUrl: 'http://sesame.test', apiKey, maxRetries: 0,
      fetch: (async (input: string | URL, init?: RequestInit) => {
        const url = new URL(String(input));
        const res = await api.app.inject({
          method: (init?.method ?? 'GET') as 'GET', url: url.pathname + url.search,
          headers: Object.fromEntries(new Headers(init?.headers).entries()), payload: init?.body as string | undefined,
        });
        return new Response(res.statusCode === 204 ? null : res.body, { status: res.statusCode, headers: res.headers as Record<string, string> });
      }) as typeof fetch,
    });
  }

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_ALLOW_SIGNUP: 'true' });
    agent = await api.createAgent('scheduler');
    other = await api.createAgent('bystander');
    client = sdk(agent.apiKey);
    otherClient = sdk(other.apiKey);
  });
  afterAll(() => api?.close());

  it('syncs the README jobs: created with server-computed weekday 09:00 New York runs; the same sync again is all zeros; dropping one cancels it', async () => {
    const first = await client.syncSchedule(README_JOBS);
    expect(first).toMatchObject({ created: 2, updated: 0, removed: 0 });
    const standup = first.events.find((e) => e.externalId === 'daily-standup');
    expect(standup?.nextOccurrenceAt).not.toBeNull();
    expect(newYork(standup?.nextOccurrenceAt ?? '')).toMatchObject({ time: '09:00', weekday: expect.stringMatching(/^(Mon|Tue|Wed|Thu|Fri)$/) as unknown });
    expect(new Date(standup?.nextOccurrenceAt ?? 0).getTime()).toBeGreaterThan(Date.now());
    // The README's value is in the past (and -05:00 is not New York's offset on 9 March): replaced, and said so.
    expect(first.adjustments.map((a) => [a.externalId, a.field, a.sent])).toEqual([
      ['daily-standup', 'nextOccurrenceAt', '2026-03-09T14:00:00.000Z'], ['weekly-report', 'nextOccurrenceAt', '2026-03-13T22:00:00.000Z'],
    ]);
    const weekly = first.events.find((e) => e.externalId === 'weekly-report');
    expect(newYork(weekly?.nextOccurrenceAt ?? '')).toEqual({ weekday: 'Fri', time: '17:00' });

    const again = await client.syncSchedule(README_JOBS);
    expect(again).toMatchObject({ created: 0, updated: 0, removed: 0 });
    expect(again.events.map((e) => e.nextOccurrenceAt)).toEqual(first.events.map((e) => e.nextOccurrenceAt));

    const changed = await client.syncSchedule([{ ...README_JOBS[0], title: 'Standup' }, README_JOBS[1]]);
    expect(changed).toMatchObject({ created: 0, updated: 1, removed: 0 });

    const one = await client.syncSchedule([README_JOBS[1]]);
    expect(one).toMatchObject({ created: 0, updated: 0, removed: 1 });
    const { events: cancelled } = await client.getSchedule({ status: 'cancelled' });
    expect(cancelled.map((e) => e.externalId)).toEqual(['daily-standup']);
    const { events: active } = await client.getSchedule({ status: 'active' });
    expect(active.map((e) => e.externalId)).toEqual(['weekly-report']);

    // Coming back reactivates it.
    expect(await client.syncSchedule(README_JOBS)).toMatchObject({ created: 0, updated: 1, removed: 0 });
    const inbox = await readEvents(api.ctx.db, inboxStream(agent.id), 0, 100);
    expect(inbox.filter((e) => e.type === 'schedule.synced').map((e) => e.data)).toEqual([
      { agentId: agent.id, created: 2, updated: 0, removed: 0 }, { agentId: agent.id, created: 0, updated: 1, removed: 0 },
      { agentId: agent.id, created: 0, updated: 0, removed: 1 }, { agentId: agent.id, created: 0, updated: 1, removed: 0 },
    ]);
  });

  it('refuses 61 * * * * and Mars/Olympus with 422 naming the field', async () => {
    const bad = await client.syncSchedule([{ externalId: 'x', title: 'x', cronExpression: '61 * * * *' }]).catch((err: unknown) => err);
    expect(bad).toBeInstanceOf(UnprocessableEntityError);
    expect((bad as UnprocessableEntityError).message).toMatch(/: events\[0\]\.cronExpression: .*61/);
    const zone = await client.createScheduleEvent({ title: 'x', cronExpression: '0 9 * * *', timezone: 'Mars/Olympus' }).catch((err: unknown) => err);
    expect(zone).toBeInstanceOf(UnprocessableEntityError);
    expect((zone as UnprocessableEntityError).message).toMatch(/: timezone: unknown IANA time zone 'Mars\/Olympus'/);
    const both = await api.call(agent.apiKey, 'POST', '/schedule/events', { title: 'x', cronExpression: '* * * * *', intervalMs: 60_000 });
    expect(both.statusCode).toBe(422);
    const never = await api.call(agent.apiKey, 'POST', '/schedule/sync', { events: [{ externalId: 'feb31', title: 'x', cronExpression: '0 0 31 2 *' }] });
    expect([never.statusCode, never.json().detail]).toEqual([422, "events[0].cronExpression: '0 0 31 2 *' never fires"]);
    const neverPatch = await api.call(agent.apiKey, 'POST', '/schedule/events', { title: 'x', cronExpression: '0 0 30 2 *' });
    expect(neverPatch.json().detail).toBe("cronExpression: '0 0 30 2 *' never fires");
    const oneShot = await api.call(agent.apiKey, 'POST', '/schedule/events', { title: 'x' });
    expect(oneShot.json().detail).toMatch(/^nextOccurrenceAt: required/);
    const dup = await api.call(agent.apiKey, 'POST', '/schedule/sync', { events: [{ externalId: 'a', title: 'a', intervalMs: 60_000 }, { externalId: 'a', title: 'b', intervalMs: 60_000 }] });
    expect(dup.json().detail).toMatch(/^events\[1\]\.externalId: 'a' appears more than once/);
    // Nothing of a refused sync was written.
    expect((await client.getSchedule()).events.map((e) => e.externalId).sort()).toEqual(['daily-standup', 'weekly-report']);
  });

  it('records occurrences (a retry updates the one record), replaces a disagreeing nextOccurrenceAt, and announces them', async () => {
    const { events } = await client.getSchedule({ status: 'active' });
    const standup = events.find((e) => e.externalId === 'daily-standup');
    if (!standup) throw new Error('no standup');
    const recorded = await client.recordOccurrence(standup.id, {
      scheduledAt: '2026-03-07T09:00:00Z', status: 'completed', result: 'Posted standup to #team', nextOccurrenceAt: '2026-03-10T09:00:00Z',
    });
    expect(recorded.occurrence).toMatchObject({ eventId: standup.id, status: 'completed', result: 'Posted standup to #team' });
    expect(recorded.adjustments).toEqual([expect.objectContaining({ field: 'nextOccurrenceAt', sent: '2026-03-10T09:00:00.000Z', used: recorded.event.nextOccurrenceAt })]);
    expect(recorded.event.occurrenceCount).toBe(1);
    const retried = await client.recordOccurrence(standup.id, { scheduledAt: '2026-03-07T09:00:00Z', status: 'failed', result: 'timeout', durationMs: 1200 });
    expect(retried.event.occurrenceCount).toBe(1);
    const { occurrences } = await client.getOccurrences(standup.id, 20);
    expect(occurrences).toEqual([expect.objectContaining({ scheduledAt: '2026-03-07T09:00:00.000Z', status: 'failed', result: 'timeout', durationMs: 1200 })]);
    const inbox = await readEvents(api.ctx.db, inboxStream(agent.id), 0, 100);
    expect(inbox.filter((e) => e.type === 'schedule.occurrence')).toHaveLength(2);
  });

  it('only the owner (or an admin) changes an event; anyone of the workspace reads it', async () => {
    const { event } = await client.createScheduleEvent({ title: 'Data Migration', nextOccurrenceAt: '2099-03-15T02:00:00Z', maxOccurrences: 1 });
    expect(event).toMatchObject({ status: 'active', nextOccurrenceAt: '2099-03-15T02:00:00.000Z', maxOccurrences: 1, cronExpression: null });
    expect((await otherClient.getScheduleEvent(event.id)).event.id).toBe(event.id);
    expect((await api.call(other.apiKey, 'PATCH', `/schedule/events/${event.id}`, { status: 'paused' })).statusCode).toBe(403);
    expect((await api.call(other.apiKey, 'POST', `/schedule/events/${event.id}/occurrences`, { scheduledAt: '2099-03-15T02:00:00Z', status: 'completed' })).statusCode).toBe(403);
    expect((await api.call(other.apiKey, 'DELETE', `/schedule/events/${event.id}`)).statusCode).toBe(403);
    const paused = await client.updateScheduleEvent(event.id, { status: 'paused' });
    expect(paused.event.status).toBe('paused');
    expect((await client.updateScheduleEvent(event.id, { status: 'active' })).event).toMatchObject({ status: 'active', nextOccurrenceAt: '2099-03-15T02:00:00.000Z' });
    // A one-shot with maxOccurrences 1 completes at its run.
    const done = await client.recordOccurrence(event.id, { scheduledAt: '2099-03-15T02:00:00Z', status: 'completed' });
    expect(done.event).toMatchObject({ status: 'completed', nextOccurrenceAt: null, occurrenceCount: 1 });
    const admin = await api.call(api.adminKey, 'PATCH', `/schedule/events/${event.id}`, { title: 'Renamed by an admin' });
    expect(admin.statusCode).toBe(200);
    await client.deleteScheduleEvent(event.id);
    expect((await api.call(agent.apiKey, 'GET', `/schedule/events/${event.id}`)).statusCode).toBe(404);
  });

  it('another workspace gets 404 for an event and sees none of it on its calendar', async () => {
    const signup = await api.call(null, 'POST', '/auth/signup', { email: `outsider-${target}@example.com`, password: 'a long enough secret', displayName: 'Outsider' });
    expect(signup.statusCode).toBe(201);
    const outsider = signup.json().data.accessToken as string;
    const { events } = await client.getSchedule();
    const id = events[0].id;
    for (const [method, url, body] of [
      ['GET', `/schedule/events/${id}`], ['PATCH', `/schedule/events/${id}`, { status: 'paused' }], ['DELETE', `/schedule/events/${id}`],
      ['GET', `/schedule/events/${id}/occurrences`], ['POST', `/schedule/events/${id}/occurrences`, { scheduledAt: '2026-03-09T14:00:00Z', status: 'completed' }],
    ] as const) {
      expect((await api.call(outsider, method, url, body)).statusCode).toBe(404);
    }
    const from = new Date().toISOString();
    const to = new Date(Date.now() + 14 * 86_400_000).toISOString();
    const cal = await api.call(outsider, 'GET', `/schedule/calendar?from=${from}&to=${to}&agentId=${agent.id}`);
    expect(cal.json().data.occurrences).toEqual([]);
    expect((await api.call(outsider, 'GET', `/schedule/events?agentId=${agent.id}`)).json().data).toEqual([]);
    expect((await client.getScheduleEvent(id)).event.status).toBe(events[0].status);
  });

  it('interval events step from their first run; a past first run is advanced and said so', async () => {
    const now = Date.now();
    const { event, adjustments } = await client.createScheduleEvent({ title: 'Heartbeat', intervalMs: 3_600_000, nextOccurrenceAt: new Date(now - 90 * 60_000).toISOString() });
    expect(new Date(event.nextOccurrenceAt ?? 0).getTime()).toBe(now - 90 * 60_000 + 2 * 3_600_000);
    expect(adjustments).toHaveLength(1);
    await client.deleteScheduleEvent(event.id);
  });

  it('computes runs in the job\'s zone across DST (fixed clock) and shows them on the calendar', async () => {
    const me = await principal(other.id);
    const now = new Date('2026-03-06T12:00:00Z');
    const synced = await syncSchedule(api.ctx, me, [
      { externalId: 'nightly', title: 'Nightly', cronExpression: '30 2 * * *', timezone: 'America/New_York' },
      { externalId: 'standup', title: 'Standup', cronExpression: '0 9 * * 1-5', timezone: 'America/New_York' },
    ], now);
    expect(synced.events.map((e) => e.nextOccurrenceAt)).toEqual(['2026-03-07T07:30:00.000Z', '2026-03-06T14:00:00.000Z']);
    const cal = await calendar(api.ctx, me, { from: '2026-03-06T00:00:00Z', to: '2026-03-11T00:00:00Z', agentId: other.id }, now);
    expect(cal.occurrences.filter((o) => o.title === 'Nightly').map((o) => o.scheduledAt)).toEqual([
      '2026-03-07T07:30:00.000Z', '2026-03-08T07:30:00.000Z', '2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z',
    ]);
    expect(cal.occurrences.filter((o) => o.title === 'Standup').map((o) => o.scheduledAt)).toEqual([
      '2026-03-06T14:00:00.000Z', '2026-03-09T13:00:00.000Z', '2026-03-10T13:00:00.000Z',
    ]);
    await syncSchedule(api.ctx, me, [], now);
  });

  it('getCalendar over 14 days shows the standup on each weekday, excludes paused events, and caps the range', async () => {
    const from = new Date();
    const to = new Date(from.getTime() + 14 * 86_400_000);
    const cal = await client.getCalendar({ from, to, agentId: agent.id });
    const standups = cal.occurrences.filter((o) => o.externalId === 'daily-standup');
    expect(standups).toHaveLength(10);
    expect(new Set(standups.map((o) => newYork(o.scheduledAt).weekday))).toEqual(new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']));
    expect(standups.every((o) => o.status === 'scheduled' && newYork(o.scheduledAt).time === '09:00')).toBe(true);
    expect(cal.truncated).toBe(false);

    const { events } = await client.getSchedule({ status: 'active' });
    const weekly = events.find((e) => e.externalId === 'weekly-report');
    if (!weekly) throw new Error('no weekly');
    await client.updateScheduleEvent(weekly.id, { status: 'paused' });
    const withoutPaused = await client.getCalendar({ from, to, agentId: agent.id });
    expect(withoutPaused.occurrences.some((o) => o.eventId === weekly.id)).toBe(false);
    const withPaused = await client.getCalendar({ from: '2026-03-01T00:00:00Z', to: '2026-03-08T00:00:00Z', agentId: agent.id, includeInactive: true });
    expect(withPaused.occurrences.map((o) => [o.externalId, o.status])).toContainEqual(['daily-standup', 'failed']);
    await client.updateScheduleEvent(weekly.id, { status: 'active' });

    const long = await client.getCalendar({ from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', agentId: agent.id });
    expect(long).toMatchObject({ truncated: true, to: '2026-04-03T00:00:00.000Z', notice: expect.stringContaining('92 days') as unknown });
  });

  it('caps the number of calendar occurrences and says so', async () => {
    const me = await principal(other.id);
    const now = new Date('2026-06-01T00:00:00Z');
    await syncSchedule(api.ctx, me, [{ externalId: 'every-minute', title: 'Tick', cronExpression: '* * * * *' }], now);
    const cal = await calendar(api.ctx, me, { from: '2026-06-01T00:00:00Z', to: '2026-06-10T00:00:00Z', agentId: other.id }, now);
    expect(cal.occurrences).toHaveLength(5000);
    expect(cal).toMatchObject({ truncated: true, notice: expect.stringContaining('at most 5000 occurrences') as unknown });
    expect(cal.occurrences.at(-1)?.scheduledAt).toBe(new Date(now.getTime() + 5000 * 60_000).toISOString());
    await syncSchedule(api.ctx, me, [], now);
  });

  it('syncs an OpenClaw cron store mapped by fromOpenClawJobs; the same store again changes nothing', async () => {
    const openclaw = sdk((await api.createAgent('claw')).apiKey);
    const store = JSON.stringify({
      version: 1,
      jobs: [
        { id: 'oc-standup', name: 'Standup', enabled: true, schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'America/New_York', staggerMs: 30000 }, payload: { kind: 'agentTurn', message: 'standup' }, state: {} },
        { id: 'oc-sweep', name: 'Sweep', enabled: true, createdAtMs: 1767225600000, schedule: { kind: 'every', everyMs: 1800000 }, state: { lastRunAtMs: 1767227400000, lastRunStatus: 'ok' } },
        { id: 'oc-once', name: 'Migration', enabled: true, deleteAfterRun: true, schedule: { kind: 'at', at: '2099-03-15T02:00:00Z' }, state: {} },
        { id: 'oc-off', name: 'Disabled', enabled: false, schedule: { kind: 'cron', expr: '0 0 * * *' }, state: {} },
      ],
    });
    const first = await openclaw.syncSchedule(fromOpenClawJobs(store));
    expect(first).toMatchObject({ created: 3, updated: 0, removed: 0 });
    const sweep = first.events.find((e) => e.externalId === 'oc-sweep');
    expect(sweep).toMatchObject({ intervalMs: 1800000, cronExpression: null });
    expect((new Date(sweep?.nextOccurrenceAt ?? 0).getTime() - 1767225600000) % 1800000).toBe(0);
    expect(first.events.find((e) => e.externalId === 'oc-once')).toMatchObject({ maxOccurrences: 1, nextOccurrenceAt: '2099-03-15T02:00:00.000Z' });
    expect(await openclaw.syncSchedule(fromOpenClawJobs(store))).toMatchObject({ created: 0, updated: 0, removed: 0 });
  });

  it('the worker records missed runs past the grace period, moves the event on and tells the owner and the channel', async () => {
    const me = await principal(other.id);
    const channel = await api.call(other.apiKey, 'POST', '/channels', { kind: 'group', name: 'ops', memberIds: [] });
    const channelId = channel.json().data.id as string;
    const t0 = new Date('2026-03-06T12:00:00Z');
    const { events } = await syncSchedule(api.ctx, me, [
      { externalId: 'standup-ops', title: 'Ops standup', cronExpression: '0 9 * * 1-5', timezone: 'America/New_York', channelId },
    ], t0);
    const id = events[0].id;
    // 14:00Z is due; within the 5-minute grace nothing happens.
    expect(await flagMissedRuns(api.ctx, new Date('2026-03-06T14:04:00Z'))).toBe(0);
    expect(await flagMissedRuns(api.ctx, new Date('2026-03-06T14:06:00Z'))).toBe(1);
    const row = await api.ctx.db.selectFrom('schedule_events').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.next_occurrence_at?.toISOString()).toBe('2026-03-09T13:00:00.000Z');
    expect(await flagMissedRuns(api.ctx, new Date('2026-03-06T14:07:00Z'))).toBe(0);
    // Several workers at once flag each run once.
    const results = await Promise.all([1, 2, 3].map(() => flagMissedRuns(api.ctx, new Date('2026-03-11T12:00:00Z'))));
    expect(results.reduce((a, b) => a + b, 0)).toBe(2);
    const occurrences = await api.ctx.db.selectFrom('schedule_occurrences').select(['scheduled_at', 'status']).where('event_id', '=', id).orderBy('scheduled_at').execute();
    expect(occurrences.map((o) => [new Date(o.scheduled_at).toISOString(), o.status])).toEqual([
      ['2026-03-06T14:00:00.000Z', 'missed'], ['2026-03-09T13:00:00.000Z', 'missed'], ['2026-03-10T13:00:00.000Z', 'missed'],
    ]);
    const inbox = (await readEvents(api.ctx.db, inboxStream(other.id), 0, 1000)).filter((e) => e.type === 'schedule.missed');
    const onChannel = (await readEvents(api.ctx.db, channelId, 0, 1000)).filter((e) => e.type === 'schedule.missed');
    expect(inbox.flatMap((e) => (e.data as { missed: string[] }).missed)).toEqual(['2026-03-06T14:00:00.000Z', '2026-03-09T13:00:00.000Z', '2026-03-10T13:00:00.000Z']);
    expect(onChannel.map((e) => e.data)).toEqual(inbox.map((e) => e.data));
    // A run the agent reported late replaces the missed record.
    await api.call(other.apiKey, 'POST', `/schedule/events/${id}/occurrences`, { scheduledAt: '2026-03-10T13:00:00Z', status: 'completed' });
    const fixed = await api.ctx.db.selectFrom('schedule_occurrences').select('status').where('event_id', '=', id).where('scheduled_at', '=', new Date('2026-03-10T13:00:00Z')).executeTakeFirstOrThrow();
    expect(fixed.status).toBe('completed');
    // Paused events are not flagged.
    await api.ctx.db.updateTable('schedule_events').set({ status: 'paused' }).where('id', '=', id).execute();
    expect(await flagMissedRuns(api.ctx, new Date('2026-04-01T00:00:00Z'))).toBe(0);
    await syncSchedule(api.ctx, me, [], t0);
  });
});
