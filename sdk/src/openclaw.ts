import type { RecordOccurrenceInput, SyncScheduleEventInput } from './protocol/index.js';

/**
 * OpenClaw's cron store (`~/.openclaw/cron/jobs.json`), as far as Sesame reads it. Fields
 * OpenClaw adds later are ignored.
 */
export interface OpenClawJobsFile { version: 1; jobs: OpenClawJob[] }
export type OpenClawSchedule =
  | { kind: 'cron'; expr: string; tz?: string; staggerMs?: number }
  | { kind: 'every'; everyMs: number; anchorMs?: number }
  | { kind: 'at'; at: string };
export type OpenClawRunStatus = 'ok' | 'error' | 'skipped';
export interface OpenClawJobState {
  nextRunAtMs?: number;
  runningAtMs?: number;
  lastRunAtMs?: number;
  lastRunStatus?: OpenClawRunStatus;
  /** What older files call `lastRunStatus`. */
  lastStatus?: OpenClawRunStatus;
  lastError?: string;
  lastDurationMs?: number;
  consecutiveErrors?: number;
}
export interface OpenClawJob {
  id: string;
  agentId?: string;
  name: string;
  description?: string;
  enabled: boolean;
  deleteAfterRun?: boolean;
  createdAtMs?: number;
  schedule: OpenClawSchedule;
  state?: OpenClawJobState;
}

export interface FromOpenClawJobsOptions {
  /** Keep only this OpenClaw agent's jobs (jobs without `agentId` belong to every agent). Default: all jobs. */
  agentId?: string;
  /** Zone for cron jobs without `tz` (OpenClaw reads those in the host's zone). Default: this host's zone. */
  defaultTimezone?: string;
}

const STATUS: Record<OpenClawRunStatus, RecordOccurrenceInput['status']> = { ok: 'completed', error: 'failed', skipped: 'skipped' };

function parse(jobsJson: string | OpenClawJobsFile): OpenClawJobsFile {
  const file: unknown = typeof jobsJson === 'string' ? JSON.parse(jobsJson) : jobsJson;
  if (!file || typeof file !== 'object' || !Array.isArray((file as { jobs?: unknown }).jobs)) {
    throw new TypeError('fromOpenClawJobs: expected an OpenClaw cron store, {version: 1, jobs: [...]} (~/.openclaw/cron/jobs.json)');
  }
  return file as OpenClawJobsFile;
}

function hostTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/**
 * Maps an OpenClaw cron store to `syncSchedule` input: the job id is the `externalId`, disabled
 * jobs are left out (so a re-sync cancels them), `cron` jobs keep their expression and zone,
 * `every` jobs become interval events anchored where OpenClaw anchors them, `at` jobs one-shots.
 * `nextOccurrenceAt` is never sent for cron jobs: the server computes it.
 */
export function fromOpenClawJobs(jobsJson: string | OpenClawJobsFile, options: FromOpenClawJobsOptions = {}): SyncScheduleEventInput[] {
  const { jobs } = parse(jobsJson);
  const timezone = options.defaultTimezone ?? hostTimezone();
  return jobs
    .filter((job) => job.enabled && (options.agentId === undefined || job.agentId === undefined || job.agentId === options.agentId))
    .map((job): SyncScheduleEventInput => {
      const base = {
        externalId: job.id, title: job.name,
        ...(job.description ? { description: job.description } : {}),
        metadata: { source: 'openclaw', ...(job.agentId ? { openclawAgentId: job.agentId } : {}), ...(job.deleteAfterRun ? { deleteAfterRun: true } : {}) },
      };
      const schedule = job.schedule;
      switch (schedule.kind) {
        case 'cron':
          return { ...base, cronExpression: schedule.expr, timezone: schedule.tz ?? timezone, metadata: { ...base.metadata, ...(schedule.staggerMs ? { staggerMs: schedule.staggerMs } : {}) } };
        case 'every': {
          const anchor = schedule.anchorMs ?? job.createdAtMs;
          return { ...base, intervalMs: schedule.everyMs, ...(anchor === undefined ? {} : { nextOccurrenceAt: new Date(anchor).toISOString() }) };
        }
        case 'at':
          return { ...base, nextOccurrenceAt: new Date(schedule.at).toISOString(), maxOccurrences: 1 };
      }
    });
}

/** The occurrence a job's `state` reports for its last run, if it ran. */
export function lastRunOf(job: OpenClawJob): { lastRunAtMs: number; occurrence: RecordOccurrenceInput } | null {
  const state = job.state;
  const status = state?.lastRunStatus ?? state?.lastStatus;
  if (state?.lastRunAtMs === undefined || status === undefined) return null;
  return {
    lastRunAtMs: state.lastRunAtMs,
    occurrence: {
      scheduledAt: new Date(state.lastRunAtMs).toISOString(), status: STATUS[status],
      ...(state.lastError && status === 'error' ? { result: state.lastError } : {}),
      ...(state.lastDurationMs === undefined ? {} : { durationMs: Math.max(0, Math.round(state.lastDurationMs)) }),
    },
  };
}

export function openClawJobsOf(jobsJson: string | OpenClawJobsFile): OpenClawJob[] {
  return parse(jobsJson).jobs;
}
