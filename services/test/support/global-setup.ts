import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/dev/test-services.sh', import.meta.url));
let startedDir: string | undefined;

/**
 * Real Postgres and Redis for the suite. CI (.ci/run) provides TEST_DATABASE_URL and
 * TEST_REDIS_URL; locally we start throwaway ones when the binaries exist. In CI a missing
 * service is an error: those tests must fail, never silently skip.
 */
export async function setup() {
  if (process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL) return;
  try {
    const output = execFileSync('bash', [script, 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const line of output.trim().split('\n')) {
      const [key, ...rest] = line.split('=');
      if (key && !process.env[key]) process.env[key] = rest.join('=');
    }
    startedDir = process.env.SESAME_TEST_SERVICES_DIR;
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    if (process.env.CI) throw new Error(`CI is set but Postgres/Redis could not be started for the tests: ${reason}`);
    process.stderr.write(`\n[sesame tests] real Postgres/Redis unavailable (${reason}); running on embedded PGlite only.\n\n`);
  }
}

export async function teardown() {
  if (startedDir) execFileSync('bash', [script, 'stop', startedDir], { stdio: 'ignore' });
}
