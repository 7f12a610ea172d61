import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/dev/test-services.sh', import.meta.url));
const clusterScript = fileURLToPath(new URL('../../../scripts/dev/redis-cluster.sh', import.meta.url));
let startedDir: string | undefined;
let startedClusterDir: string | undefined;

/** The KEY=VALUE lines a start script prints. */
function parseLines(output: string): Record<string, string> {
  return Object.fromEntries(output.trim().split('\n').map((line) => {
    const [key, ...rest] = line.split('=');
    return [key, rest.join('=')];
  }));
}

function exportLines(values: Record<string, string>) {
  for (const [key, value] of Object.entries(values)) if (key && !process.env[key]) process.env[key] = value;
}

function stopRedisCluster() {
  const dir = startedClusterDir;
  startedClusterDir = undefined;
  if (dir) execFileSync('bash', [clusterScript, 'stop', dir], { stdio: 'ignore' });
}

/**
 * A 3-master Redis Cluster for the cluster-mode tests (TEST_REDIS_CLUSTER_NODES), started here
 * when CI (.ci/run) has not provided one. Its absence fails those tests in CI, skips them locally.
 *
 * Its nodes are daemons, so nothing ends them with this process but `stop`: teardown stops them,
 * so does a failed setup, and `--owner` hands the rest (vitest killed by SIGTERM or SIGKILL,
 * which skip teardown) to the script's watchdog, which stops the cluster once this process is gone.
 */
function startRedisCluster() {
  if (process.env.TEST_REDIS_CLUSTER_NODES) return;
  try {
    const output = execFileSync('bash', [clusterScript, 'start', '3', '0', '--owner', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    // This run's own directory, whatever a stale SESAME_TEST_REDIS_CLUSTER_DIR in the environment says.
    const values = parseLines(output);
    startedClusterDir = values.SESAME_TEST_REDIS_CLUSTER_DIR;
    exportLines(values);
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    process.stderr.write(`\n[sesame tests] Redis Cluster unavailable (${reason}); cluster-mode tests ${process.env.CI ? 'will fail' : 'are skipped'}.\n\n`);
  }
}

/**
 * Real Postgres and Redis for the suite. CI (.ci/run) provides TEST_DATABASE_URL and
 * TEST_REDIS_URL; locally we start throwaway ones when the binaries exist. In CI a missing
 * service is an error: those tests must fail, never silently skip. Like the cluster's, the
 * script's watchdog (`--owner`) stops them if this process dies without its teardown.
 */
export async function setup() {
  startRedisCluster();
  // A normal exit that skips teardown (vitest does when setup throws) still stops the cluster.
  process.once('exit', stopRedisCluster);
  if (process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL) return;
  try {
    const values = parseLines(execFileSync('bash', [script, 'start', '--owner', String(process.pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    startedDir = values.SESAME_TEST_SERVICES_DIR;
    exportLines(values);
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    if (process.env.CI) {
      stopRedisCluster();
      throw new Error(`CI is set but Postgres/Redis could not be started for the tests: ${reason}`);
    }
    process.stderr.write(`\n[sesame tests] real Postgres/Redis unavailable (${reason}); running on embedded PGlite only.\n\n`);
  }
}

export async function teardown() {
  stopRedisCluster();
  if (startedDir) execFileSync('bash', [script, 'stop', startedDir], { stdio: 'ignore' });
}
