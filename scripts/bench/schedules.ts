/**
 * Schedules: `syncSchedule` of 1,000 cron jobs (first sync, then the same jobs again, which
 * changes nothing) and a 30-day calendar over them, through the REST API of a real api process
 * on PostgreSQL. References measured in the same run: the same 1,000 rows written by one raw
 * multi-row `INSERT … ON CONFLICT` (the database floor, no validation, no diffing, no HTTP), and
 * croner expanding the same expressions over the same 30 days in-process (the computation floor).
 *
 *   npm run bench -- schedules
 */
import { loadavg } from 'node:os';
import { Cron } from 'croner';
import pg from 'pg';
import { runBench } from './support/lifecycle.js';
import { startSesame } from './support/sesame.js';
import { median } from './support/stats.js';
import { startTestServices } from './support/test-services.js';
import { machineFacts, writeSection } from './write-results.js';

const JOBS = 1000;
const RUNS = 5;
const DAY_MS = 86_400_000;
const ZONES = ['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'UTC', 'America/Los_Angeles'];

/** Weekly jobs at spread-out times (about 4,300 runs in 30 days: under the calendar's 5,000 cap). */
function jobs(variant = '') {
  return Array.from({ length: JOBS }, (_, i) => ({
    externalId: `job-${i}`,
    title: `Job ${i}${variant}`,
    cronExpression: `${i % 60} ${i % 24} * * ${i % 7}`,
    timezone: ZONES[i % ZONES.length],
    metadata: { team: `team-${i % 10}` },
  }));
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, result };
}

const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
const perJob = (ms: number) => `${((ms * 1000) / JOBS).toFixed(0)} µs`;

void runBench(async () => {
  const services = startTestServices();
  const sesame = await startSesame(services);
  const agents = await sesame.rest.createAgents('sched', RUNS + 1);
  type SyncResult = { data: { created: number; updated: number; removed: number } };

  // First sync: a fresh agent each run, so every run creates 1,000 events.
  const first: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { ms, result } = await time(() => sesame.rest.as(agents[run].apiKey).call<SyncResult>('POST', '/schedule/sync', { events: jobs() }));
    if (result.data.created !== JOBS) throw new Error(`first sync created ${result.data.created}`);
    first.push(ms);
  }
  // Unchanged re-sync of the last agent's jobs.
  const agent = sesame.rest.as(agents[RUNS - 1].apiKey);
  const again: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const { ms, result } = await time(() => agent.call<SyncResult>('POST', '/schedule/sync', { events: jobs() }));
    if (result.data.created + result.data.updated + result.data.removed !== 0) throw new Error('re-sync changed something');
    again.push(ms);
  }
  // Every job changed (new titles): 1,000 updates.
  const { ms: changedMs, result: changed } = await time(() => agent.call<SyncResult>('POST', '/schedule/sync', { events: jobs(' v2') }));
  if (changed.data.updated !== JOBS) throw new Error(`changed sync updated ${changed.data.updated}`);

  // A 30-day calendar over that agent's 1,000 jobs.
  const from = new Date();
  const to = new Date(from.getTime() + 30 * DAY_MS);
  const query = `/schedule/calendar?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}&agentId=${agents[RUNS - 1].id}`;
  const calendar: number[] = [];
  let occurrences = 0;
  let truncated = false;
  for (let run = 0; run < RUNS; run++) {
    const { ms, result } = await time(() => agent.call<{ data: { occurrences: unknown[]; truncated: boolean } }>('GET', query));
    occurrences = result.data.occurrences.length;
    truncated = result.data.truncated;
    calendar.push(ms);
  }

  // References, same run: one raw upsert statement of the same rows, and croner alone.
  const client = new pg.Client({ connectionString: services.databaseUrl });
  await client.connect();
  await client.query('CREATE TEMP TABLE bench_events (agent_id text, external_id text, title text, cron_expression text, timezone text, metadata jsonb, PRIMARY KEY (agent_id, external_id))');
  const raw: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const rows = jobs();
    const values = rows.map((_, i) => `($1, $${i * 5 + 2}, $${i * 5 + 3}, $${i * 5 + 4}, $${i * 5 + 5}, $${i * 5 + 6})`).join(', ');
    const params = [`agent-${run}`, ...rows.flatMap((r) => [r.externalId, r.title, r.cronExpression, r.timezone, JSON.stringify(r.metadata)])];
    const { ms } = await time(() => client.query(`INSERT INTO bench_events VALUES ${values} ON CONFLICT (agent_id, external_id) DO UPDATE SET title = EXCLUDED.title`, params));
    raw.push(ms);
  }
  await client.end();
  const expand: number[] = [];
  let expanded = 0;
  for (let run = 0; run < RUNS; run++) {
    const { ms } = await time(() => {
      expanded = 0;
      for (const job of jobs()) {
        const cron = new Cron(job.cronExpression, { timezone: job.timezone });
        for (let at = cron.nextRun(from); at && at < to; at = cron.nextRun(at)) expanded++;
      }
      return Promise.resolve();
    });
    expand.push(ms);
  }

  const rows = [
    ['`syncSchedule`, first (1,000 created)', median(first), 'raw multi-row upsert of the same rows', median(raw)],
    ['`syncSchedule`, unchanged re-sync (all zeros)', median(again), '', NaN],
    ['`syncSchedule`, every job changed (1,000 updated)', changedMs, '', NaN],
    [`\`getCalendar\`, 30 days (${occurrences} occurrences${truncated ? ', truncated' : ''})`, median(calendar), `croner alone over the same jobs (${expanded} runs)`, median(expand)],
  ] as const;
  for (const [what, ms] of rows) console.log(`${what}: ${fmt(ms)} (${perJob(ms)} per job)`);
  const table = [
    '## Schedules (`/schedule/*`)',
    '',
    `Machine: ${machineFacts()}. Command: \`npm run bench -- schedules\`: a real api process (\`NODE_ENV=production\`) on PostgreSQL, ${JOBS.toLocaleString('en-US')} weekly cron jobs in 5 time zones, REST calls from the same machine; median of ${RUNS} runs unless one run; load average ${loadavg()[0].toFixed(1)} at the end (other work shared the machine: compare rows of this run, not runs).`,
    '',
    '| operation | time | per job | reference (same run) | reference time |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(([what, ms, ref, refMs]) => `| ${what} | ${fmt(ms)} | ${perJob(ms)} | ${ref || '—'} | ${Number.isNaN(refMs) ? '—' : `${fmt(refMs)} (${perJob(refMs)} per job)`} |`),
    '',
    'A sync validates every expression and zone, computes each next run in its zone, reads the agent\'s existing events, diffs them and writes only what changed, in one transaction behind a per-agent lock, plus the JSON round trip of 1,000 events; the raw upsert is the database floor without any of that. An unchanged re-sync writes nothing. The calendar reads the recorded runs and expands every job from its next run over the range (a heap over per-event iterators), so its cost over croner alone is the query, the JSON of the answer and the HTTP round trip.',
  ].join('\n');
  writeSection('schedules', table);
  console.log('\nwritten to docs/benchmarks.md');
});
