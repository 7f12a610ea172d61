import { setFlagsFromString } from 'node:v8';

/**
 * V8 garbage-collector settings every Sesame process runs with (set by `cli.ts` at start, before
 * any service is built; `docs/operations.md` says why):
 * - `--no-parallel-scavenge`: young-generation collections run on the main thread alone. A
 *   gateway's scavenges find little alive (tens to a few hundred KiB: most of what a fan-out
 *   allocates is dead by then), so helper threads have little to share and the main thread waits
 *   for them to be scheduled: on a machine whose cores are busy (other processes, a container's
 *   CPU quota) a 1 ms scavenge became 5-50 ms, delaying every delivery in flight.
 * - `--no-concurrent-array-buffer-sweeping`: the same for the sweep of dead ArrayBuffers, which a
 *   scavenge otherwise waits on when the background sweep has not run yet.
 * A flag given on the command line (`node --parallel-scavenge …`, either spelling) wins.
 */
export const GC_FLAGS = ['--no-parallel-scavenge', '--no-concurrent-array-buffer-sweeping'] as const;

/** The flags of `GC_FLAGS` the command line does not set; each is applied. Returns those applied. */
export function applyGcFlags(execArgv: readonly string[] = process.execArgv, set: (flag: string) => void = setFlagsFromString): string[] {
  const given = new Set(execArgv.map((arg) => arg.replaceAll('_', '-').replace(/^--(no-)?/, '')));
  const applied = GC_FLAGS.filter((flag) => !given.has(flag.slice('--no-'.length)));
  for (const flag of applied) set(flag);
  return applied;
}
