import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SesameClient, UnprocessableEntityError, fromOpenClawJobs } from '@sesamespace/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { spawnServer, type ServerProcess } from './support/process.js';

const weekday = (iso: string) => new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', weekday: 'short' }).format(new Date(iso));
const clock = (iso: string) => new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));

/** Issue 14's acceptance, with only the SDK against a real `npm start` process. */
describe('schedules through the SDK against npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-schedules-'));
  const bootstrapKey = randomKey();
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('syncs, re-syncs, removes, refuses, records and shows the README jobs on the calendar', async () => {
    server = spawnServer('start', { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: bootstrapKey, PORT: '0', GATEWAY_PORT: '0' });
    const [, apiUrl] = await server.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    const admin = new SesameClient({ apiUrl, apiKey: bootstrapKey });
    const { apiKey } = await admin.createAgent({ handle: 'cron-agent' });
    const client = new SesameClient({ apiUrl, apiKey });

    const jobs = [
      { externalId: 'daily-standup', title: 'Daily Standup Summary', cronExpression: '0 9 * * 1-5', timezone: 'America/New_York', nextOccurrenceAt: '2026-03-09T09:00:00-05:00' },
      { externalId: 'weekly-report', title: 'Weekly Analytics Report', cronExpression: '0 17 * * 5', timezone: 'America/New_York', nextOccurrenceAt: '2026-03-13T17:00:00-05:00' },
    ];
    const result = await client.syncSchedule(jobs);
    expect(result).toMatchObject({ created: 2, updated: 0, removed: 0 });
    const standup = result.events[0];
    expect(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']).toContain(weekday(standup.nextOccurrenceAt ?? ''));
    expect(clock(standup.nextOccurrenceAt ?? '')).toBe('09:00');

    expect(await client.syncSchedule(jobs)).toMatchObject({ created: 0, updated: 0, removed: 0 });
    expect(await client.syncSchedule([jobs[0]])).toMatchObject({ created: 0, updated: 0, removed: 1 });
    expect((await client.getSchedule({ status: 'active' })).events.map((e) => e.externalId)).toEqual(['daily-standup']);

    await expect(client.syncSchedule([{ ...jobs[0], cronExpression: '61 * * * *' }])).rejects.toBeInstanceOf(UnprocessableEntityError);
    await expect(client.syncSchedule([{ ...jobs[0], timezone: 'Mars/Olympus' }])).rejects.toBeInstanceOf(UnprocessableEntityError);

    await client.recordOccurrence(standup.id, { scheduledAt: '2026-03-07T09:00:00Z', status: 'completed', result: 'Posted standup to #team', nextOccurrenceAt: '2026-03-10T09:00:00Z' });
    const { occurrences } = await client.getOccurrences(standup.id, 20);
    expect(occurrences).toEqual([expect.objectContaining({ scheduledAt: '2026-03-07T09:00:00.000Z', status: 'completed', result: 'Posted standup to #team' })]);

    const from = new Date();
    const calendar = await client.getCalendar({ from, to: new Date(from.getTime() + 14 * 86_400_000) });
    const runs = calendar.occurrences.filter((o) => o.eventId === standup.id);
    expect(runs).toHaveLength(10);
    expect(new Set(runs.map((o) => weekday(o.scheduledAt)))).toEqual(new Set(['Mon', 'Tue', 'Wed', 'Thu', 'Fri']));
    expect(typeof fromOpenClawJobs).toBe('function');
  }, 120_000);
});
