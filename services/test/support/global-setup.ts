import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/dev/test-services.sh', import.meta.url));
const clusterScript = fileURLToPath(new URL('../../../scripts/dev/redis-cluster.sh', import.meta.url));
let startedDir: string | undefined;
let startedClusterDir: string | undefined;

function exportLines(output: string) {
  for (const line of output.trim().split('\n')) {
    const [key, ...rest] = line.split('=');
    if (key && !process.env[key]) process.env[key] = rest.join('=');
  }
}

/**
 * A 3-master Redis Cluster for the cluster-mode tests (TEST_REDIS_CLUSTER_NODES), started here
 * when CI (.ci/run) has not provided one. Its absence fails those tests in CI, skips them locally.
 */
function startRedisCluster() {
  if (process.env.TEST_REDIS_CLUSTER_NODES) return;
  try {
    exportLines(execFileSync('bash', [clusterScript, 'start', '3', '0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    startedClusterDir = process.env.SESAME_TEST_REDIS_CLUSTER_DIR;
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    process.stderr.write(`\n[sesame tests] Redis Cluster unavailable (${reason}); cluster-mode tests ${process.env.CI ? 'will fail' : 'are skipped'}.\n\n`);
  }
}

/**
 * Real Postgres and Redis for the suite. CI (.ci/run) provides TEST_DATABASE_URL and
 * TEST_REDIS_URL; locally we start throwaway ones when the binaries exist. In CI a missing
 * service is an error: those tests must fail, never silently skip.
 */
export async function setup() {
  startRedisCluster();
  if (process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL) return;
  try {
    exportLines(execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    startedDir = process.env.SESAME_TEST_SERVICES_DIR;
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    if (process.env.CI) throw new Error(`CI is set but Postgres/Redis could not be started for the tests: ${reason}`);
    process.stderr.write(`\n[sesame tests] real Postgres/Redis unavailable (${reason}); running on embedded PGlite only.\n\n`);
  }
}

export async function teardown() {
  if (startedClusterDir) execFileSync('bash', [clusterScript, 'stop', startedClusterDir], { stdio: 'ignore' });
  if (startedDir) execFileSync('bash', [script, 'stop', startedDir], { stdio: 'ignore' });
}
