import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromOpenClawJobs, watchOpenClawJobs, type OpenClawJobsFile, type OpenClawWatcher } from '../src/index.js';
import type { RecordOccurrenceInput, ScheduleEvent, SyncScheduleEventInput, SyncScheduleResult } from '../src/types.js';

/** A cron store as OpenClaw writes it (~/.openclaw/cron/jobs.json), with the fields Sesame ignores too. */
function jobsFile(overrides: { standupState?: Record<string, unknown>; reportEnabled?: boolean } = {}): OpenClawJobsFile {
  return JSON.parse(JSON.stringify({
    version: 1,
    jobs: [
      {
        id: 'job_standup', agentId: 'main', name: 'Morning standup', description: 'Summarise yesterday in #team', enabled: true,
        createdAtMs: 1767225600000, updatedAtMs: 1767225600000,
        schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'America/New_York', staggerMs: 30000 },
        sessionTarget: 'isolated', wakeMode: 'now', payload: { kind: 'agentTurn', message: 'Post the standup summary' },
        delivery: { mode: 'announce', channel: 'slack', to: '#team' },
        state: { nextRunAtMs: 1767880800000, ...overrides.standupState },
      },
      {
        id: 'job_heartbeat', name: 'Inbox sweep', enabled: true, createdAtMs: 1767225600000,
        schedule: { kind: 'every', everyMs: 1800000, anchorMs: 1767225600000 },
        payload: { kind: 'systemEvent', text: 'sweep' },
        state: { lastRunAtMs: 1767227400000, lastStatus: 'error', lastError: 'IMAP timeout', lastDurationMs: 3012.6, consecutiveErrors: 2 },
      },
      {
        id: 'job_migrate', name: 'Data migration', enabled: true, deleteAfterRun: true,
        schedule: { kind: 'at', at: '2026-03-15T02:00:00Z' }, payload: { kind: 'agentTurn', message: 'run the migration' }, state: {},
      },
      {
        id: 'job_report', agentId: 'main', name: 'Weekly report', enabled: overrides.reportEnabled ?? false,
        schedule: { kind: 'cron', expr: '0 17 * * 5' }, payload: { kind: 'agentTurn', message: 'weekly report' }, state: {},
      },
      {
        id: 'job_other_agent', agentId: 'research', name: 'Paper digest', enabled: true,
        schedule: { kind: 'cron', expr: '0 7 * * *', tz: 'Europe/Berlin' }, payload: { kind: 'agentTurn', message: 'digest' }, state: {},
      },
    ],
  })) as OpenClawJobsFile;
}

describe('fromOpenClawJobs', () => {
  it('maps cron, every and at jobs to syncSchedule input, leaving disabled jobs out', () => {
    const input = fromOpenClawJobs(JSON.stringify(jobsFile()), { defaultTimezone: 'UTC' });
    expect(input).toEqual([
      {
        externalId: 'job_standup', title: 'Morning standup', description: 'Summarise yesterday in #team', cronExpression: '0 9 * * 1-5', timezone: 'America/New_York',
        metadata: { source: 'openclaw', openclawAgentId: 'main', staggerMs: 30000 },
      },
      { externalId: 'job_heartbeat', title: 'Inbox sweep', intervalMs: 1800000, nextOccurrenceAt: '2026-01-01T00:00:00.000Z', metadata: { source: 'openclaw' } },
      { externalId: 'job_migrate', title: 'Data migration', nextOccurrenceAt: '2026-03-15T02:00:00.000Z', maxOccurrences: 1, metadata: { source: 'openclaw', deleteAfterRun: true } },
      { externalId: 'job_other_agent', title: 'Paper digest', cronExpression: '0 7 * * *', timezone: 'Europe/Berlin', metadata: { source: 'openclaw', openclawAgentId: 'research' } },
    ]);
  });

  it('keeps one agent\'s jobs (and the shared ones) and reads cron jobs without tz in the default zone', () => {
    const input = fromOpenClawJobs(jobsFile({ reportEnabled: true }), { agentId: 'main', defaultTimezone: 'Europe/Paris' });
    expect(input.map((job) => job.externalId)).toEqual(['job_standup', 'job_heartbeat', 'job_migrate', 'job_report']);
    expect(input.find((job) => job.externalId === 'job_report')).toMatchObject({ cronExpression: '0 17 * * 5', timezone: 'Europe/Paris' });
  });

  it('refuses something that is not a cron store', () => {
    expect(() => fromOpenClawJobs('{"jobs": {}}')).toThrow(/expected an OpenClaw cron store/);
    expect(() => fromOpenClawJobs('not json')).toThrow(SyntaxError);
  });
});

/** Records what the watcher sends; answers syncs like the server (ids by externalId). */
class FakeScheduleClient {
  readonly syncs: SyncScheduleEventInput[][] = [];
  readonly occurrences: { eventId: string; input: RecordOccurrenceInput }[] = [];
  private readonly waiting: ((result: SyncScheduleResult) => void)[] = [];

  syncSchedule(events: SyncScheduleEventInput[]): Promise<SyncScheduleResult> {
    this.syncs.push(events);
    const result: SyncScheduleResult = {
      created: 0, updated: 0, removed: 0, adjustments: [],
      events: events.map((e) => ({ id: `sch_${e.externalId}`, externalId: e.externalId, title: e.title }) as ScheduleEvent),
    };
    return Promise.resolve(result);
  }
  recordOccurrence(eventId: string, input: RecordOccurrenceInput) {
    this.occurrences.push({ eventId, input });
    return Promise.resolve({} as never);
  }
  /** Resolves at the next completed sync. */
  nextSync(): Promise<SyncScheduleResult> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  synced(result: SyncScheduleResult) {
    for (const resolve of this.waiting.splice(0)) resolve(result);
  }
}

describe('watchOpenClawJobs', () => {
  let dir = '';
  let path = '';
  let watcher: OpenClawWatcher | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'openclaw-'));
    path = join(dir, 'jobs.json');
  });
  afterEach(async () => {
    await watcher?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** OpenClaw writes the store atomically: a temp file renamed over the old one. */
  function write(file: OpenClawJobsFile) {
    writeFileSync(`${path}.tmp`, JSON.stringify(file, null, 2));
    renameSync(`${path}.tmp`, path);
  }

  it('syncs on start and on every change, and records an occurrence each time a job\'s lastRunAtMs advances', async () => {
    write(jobsFile());
    const client = new FakeScheduleClient();
    const errors: unknown[] = [];
    watcher = watchOpenClawJobs(path, client, { pollIntervalMs: 10, defaultTimezone: 'UTC', onSync: (r) => { client.synced(r); }, onError: (e) => errors.push(e) });
    await watcher.ready;
    expect(client.syncs[0].map((e) => e.externalId)).toEqual(['job_standup', 'job_heartbeat', 'job_migrate', 'job_other_agent']);
    // The heartbeat's last run (an error, in an older file's `lastStatus`) is recorded once.
    expect(client.occurrences).toEqual([{
      eventId: 'sch_job_heartbeat', input: { scheduledAt: '2026-01-01T00:30:00.000Z', status: 'failed', result: 'IMAP timeout', durationMs: 3013 },
    }]);

    // The standup runs; the report is enabled.
    let next = client.nextSync();
    write(jobsFile({ standupState: { lastRunAtMs: 1767880800000, lastRunStatus: 'ok', lastDurationMs: 950 }, reportEnabled: true }));
    await next;
    expect(client.syncs.at(-1)?.map((e) => e.externalId)).toContain('job_report');
    expect(client.occurrences.slice(1)).toEqual([{ eventId: 'sch_job_standup', input: { scheduledAt: '2026-01-08T14:00:00.000Z', status: 'completed', durationMs: 950 } }]);

    // Nothing ran since: a rewrite syncs but records nothing; a disabled job drops out of the sync (the server cancels it).
    next = client.nextSync();
    write(jobsFile({ standupState: { lastRunAtMs: 1767880800000, lastRunStatus: 'ok', lastDurationMs: 950 }, reportEnabled: false }));
    await next;
    expect(client.occurrences).toHaveLength(2);
    expect(client.syncs.at(-1)?.map((e) => e.externalId)).not.toContain('job_report');

    // A skipped run maps to `skipped`.
    next = client.nextSync();
    write(jobsFile({ standupState: { lastRunAtMs: 1767967200000, lastRunStatus: 'skipped' } }));
    await next;
    expect(client.occurrences.at(-1)).toEqual({ eventId: 'sch_job_standup', input: { scheduledAt: '2026-01-09T14:00:00.000Z', status: 'skipped' } });
    expect(errors).toEqual([]);
  });

  it('reports a half-written file and carries on at the next change', async () => {
    write(jobsFile());
    const client = new FakeScheduleClient();
    const errors: unknown[] = [];
    let failed!: () => void;
    const failure = new Promise<void>((resolve) => { failed = resolve; });
    watcher = watchOpenClawJobs(path, client, { pollIntervalMs: 10, onSync: (r) => { client.synced(r); }, onError: (e) => { errors.push(e); failed(); } });
    await watcher.ready;
    writeFileSync(path, '{"version": 1, "jobs": [');
    await failure;
    expect(errors[0]).toBeInstanceOf(SyntaxError);
    const next = client.nextSync();
    write(jobsFile());
    await next;
    expect(client.syncs).toHaveLength(2);
  });
});
