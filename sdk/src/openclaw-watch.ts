import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fromOpenClawJobs, lastRunOf, openClawJobsOf, type FromOpenClawJobsOptions } from './openclaw.js';
import type { SesameClient } from './client.js';
import type { SyncScheduleResult } from './protocol/index.js';

export interface WatchOpenClawJobsOptions extends FromOpenClawJobsOptions {
  /** How often the file is checked for changes, in ms (stat polling, which survives OpenClaw's atomic rename). Default 1000. */
  pollIntervalMs?: number;
  /** Called after each sync (the first one too). */
  onSync?: (result: SyncScheduleResult) => void;
  /** A read, parse or API failure; the watcher keeps going and retries at the next change. Default: ignored. */
  onError?: (error: unknown) => void;
}

export interface OpenClawWatcher {
  /** Settles with the first sync. */
  readonly ready: Promise<SyncScheduleResult>;
  /** Syncs now (what a file change does). */
  sync(): Promise<SyncScheduleResult>;
  /** Stops watching; waits for a sync in progress. */
  stop(): Promise<void>;
}

/**
 * Keeps Sesame in step with an OpenClaw cron store: syncs it now and whenever the file changes
 * (`syncSchedule`, so removed or disabled jobs are cancelled), and records an occurrence each
 * time a job's `state.lastRunAtMs` advances (`ok` → completed, `error` → failed with `lastError`
 * as the result, `skipped` → skipped). Recording is an upsert, so a restart that reports the
 * same last run again stores it once. Node only (it reads the file system).
 */
export function watchOpenClawJobs(path: string, client: Pick<SesameClient, 'syncSchedule' | 'recordOccurrence'>, options: WatchOpenClawJobsOptions = {}): OpenClawWatcher {
  const lastRuns = new Map<string, number>();
  let chain: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const once = async (): Promise<SyncScheduleResult> => {
    const text = await readFile(path, 'utf8');
    const jobs = openClawJobsOf(text);
    const result = await client.syncSchedule(fromOpenClawJobs({ version: 1, jobs }, options));
    const ids = new Map(result.events.map((event) => [event.externalId, event.id]));
    for (const job of jobs) {
      const run = lastRunOf(job);
      const eventId = ids.get(job.id);
      if (!run || !eventId || (lastRuns.get(job.id) ?? -Infinity) >= run.lastRunAtMs) continue;
      await client.recordOccurrence(eventId, run.occurrence);
      lastRuns.set(job.id, run.lastRunAtMs);
    }
    options.onSync?.(result);
    return result;
  };
  // One sync at a time, in order of the changes that asked for them.
  const sync = (): Promise<SyncScheduleResult> => {
    const next = chain.then(once, once);
    chain = next.catch(() => undefined);
    return next;
  };
  const onChange = (current: Stats, previous: Stats) => {
    if (stopped || (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino)) return;
    sync().catch((err: unknown) => options.onError?.(err));
  };
  watchFile(path, { interval: options.pollIntervalMs ?? 1000, persistent: true }, onChange);
  const ready = sync();
  ready.catch((err: unknown) => options.onError?.(err));
  return {
    ready,
    sync,
    async stop() {
      stopped = true;
      unwatchFile(path, onChange);
      await chain;
    },
  };
}
