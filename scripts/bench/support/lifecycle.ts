/**
 * Everything a bench starts registers how to stop it here; `runBench` runs the bench and then
 * the cleanups in reverse order, whether the bench finished, threw, or was interrupted.
 */
type Cleanup = { label: string; fn: () => Promise<void> | void };

const cleanups: Cleanup[] = [];
let cleaning: Promise<void> | undefined;

/** Registers a cleanup; returns a function that runs it early (and unregisters it). */
export function onCleanup(label: string, fn: () => Promise<void> | void): () => Promise<void> {
  const entry = { label, fn };
  cleanups.push(entry);
  return async () => {
    const index = cleanups.indexOf(entry);
    if (index < 0) return;
    cleanups.splice(index, 1);
    await entry.fn();
  };
}

async function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const { label, fn } = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        console.error(`cleanup '${label}' failed:`, err);
      }
    }
  })();
  return cleaning;
}

export async function runBench(main: () => Promise<void>): Promise<void> {
  const interrupt = (signal: string) => {
    console.error(`\n${signal}: stopping everything this bench started`);
    void runCleanups().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => { interrupt('SIGINT'); });
  process.once('SIGTERM', () => { interrupt('SIGTERM'); });
  try {
    await main();
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    await runCleanups();
  }
  // Sockets or timers a bench forgot must not keep the run alive.
  process.exit(process.exitCode ?? 0);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; throws `describe()` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number, describe: () => string, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(pollMs);
  }
}
