import type { ServiceContext } from '../shared/context.js';
import { runWebhookDeliveries, stopWebhookDeliveries } from '../shared/webhooks/delivery.js';
import { runHousekeeping } from './housekeeping.js';
import { flagMissedRuns } from './missed-schedules.js';
import { runLeaseExpiry } from './lease-expiry.js';

export interface Worker { stop(): Promise<void> }

export interface WorkerJob {
  name: string; intervalMs: number; run(ctx: ServiceContext): Promise<void>;
  /** Finishes work the job started beyond its runs (at shutdown, after the last run). */
  stop?(ctx: ServiceContext): Promise<void>;
}

/** Every periodic job: housekeeping, missed schedule runs, vault lease expiry, webhook deliveries. */
function workerJobs(ctx: ServiceContext): WorkerJob[] {
  return [
    { name: 'housekeeping', intervalMs: 60_000, run: runHousekeeping },
    { name: 'missed-schedule-runs', intervalMs: 30_000, run: async (c) => { await flagMissedRuns(c); } },
    { name: 'vault-lease-expiry', intervalMs: 15_000, run: (c) => runLeaseExpiry(c) },
    { name: 'webhook-deliveries', intervalMs: ctx.config.SESAME_WEBHOOK_POLL_INTERVAL_MS, run: runWebhookDeliveries, stop: stopWebhookDeliveries },
  ];
}

/** Runs each job on its interval, never overlapping itself; errors are logged and retried next tick. */
export function startWorker(ctx: ServiceContext, jobs: WorkerJob[] = workerJobs(ctx)): Worker {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  let stopped = false;
  for (const job of jobs) {
    let busy = false;
    const tick = () => {
      if (busy || stopped) return;
      busy = true;
      const run = job.run(ctx)
        .catch((err: unknown) => { ctx.logger.error({ err, job: job.name }, 'worker job failed'); })
        .finally(() => { busy = false; running.delete(run); });
      running.add(run);
    };
    timers.push(setInterval(tick, job.intervalMs));
    setImmediate(tick);
  }
  return {
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      await Promise.all(running);
      await Promise.all(jobs.map(async (job) => { await job.stop?.(ctx); }));
    },
  };
}
