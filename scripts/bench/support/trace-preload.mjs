/**
 * BENCH_TRACE (fan-out bench): loaded with `--import` into a process under measurement (the
 * Sesame api and gateway, the subscriber processes), it records what can hold a message up
 * there, on the monotonic clock the bench stamps messages with (`process.hrtime`):
 * - garbage collections (perf_hooks 'gc' entries: start, duration, kind);
 * - event-loop stalls: a 10 ms timer that fired late by 4 ms or more (the loop was busy, or the
 *   process was not scheduled) — the gap between its previous run and this one.
 * - the SQL statements of `pg` clients (start, duration, the statement's name or first words),
 *   when the process uses `pg` (the api and the gateway on PostgreSQL).
 * On SIGUSR2 it writes them as JSON to `$BENCH_TRACE_DIR/<pid>.json`; the bench reads them after the run.
 * Nothing is loaded, and nothing changes, without BENCH_TRACE.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PerformanceObserver, performance, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const dir = process.env.BENCH_TRACE_DIR;
if (dir) {
  // performance.now() (ms since the time origin) → hrtime ns: both monotonic, offset fixed here.
  const offsetNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;
  const toNs = (ms) => Math.round(offsetNs + ms * 1e6);
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  /**
   * [start ns, duration ns, kind, young generation's capacity (KiB), old generation's live bytes
   * (KiB)] — the two sizes read when the observer runs (a moment after the GC).
   */
  const gcs = [];
  const heap = () => {
    let young = 0;
    let old = 0;
    for (const space of getHeapSpaceStatistics()) {
      if (space.space_name === 'new_space') young = space.space_size;
      else if (space.space_name !== 'new_large_object_space') old += space.space_used_size;
    }
    return [Math.round(young / 1024), Math.round(old / 1024)];
  };
  new PerformanceObserver((list) => {
    const sizes = heap();
    for (const entry of list.getEntries()) gcs.push([toNs(entry.startTime), Math.round(entry.duration * 1e6), kinds[entry.detail?.kind] ?? String(entry.detail?.kind), ...sizes]);
  }).observe({ entryTypes: ['gc'] });
  /** [from ns, to ns]: the loop did not run the 10 ms timer between the two. */
  const stalls = [];
  const STEP_MS = 10;
  let last = Number(process.hrtime.bigint());
  const tick = () => {
    const now = Number(process.hrtime.bigint());
    if (now - last >= (STEP_MS + 4) * 1e6) stalls.push([last, now]);
    last = now;
    setTimeout(tick, STEP_MS).unref();
  };
  setTimeout(tick, STEP_MS).unref();
  /** [start ns, duration ns, statement] */
  const statements = [];
  try {
    const { Client } = createRequire(`${process.cwd()}/`)('pg');
    const query = Client.prototype.query;
    Client.prototype.query = function (config, ...rest) {
      const started = Number(process.hrtime.bigint());
      const text = typeof config === 'string' ? config : config?.name ?? config?.text ?? '';
      const label = String(text).replace(/\s+/g, ' ').trim().slice(0, 48);
      const done = () => { statements.push([started, Number(process.hrtime.bigint()) - started, label]); };
      const last = rest.length - 1;
      if (last >= 0 && typeof rest[last] === 'function') {
        const callback = rest[last];
        rest[last] = (...args) => { done(); return callback(...args); };
        return query.call(this, config, ...rest);
      }
      const result = query.call(this, config, ...rest);
      if (result && typeof result.then === 'function') result.then(done, done);
      return result;
    };
  } catch { /* no pg here */ }
  process.on('SIGUSR2', () => {
    writeFileSync(`${dir}/${process.pid}.json`, JSON.stringify({ pid: process.pid, gcs, stalls, statements }));
  });
}
