import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './lifecycle.js';

const script = fileURLToPath(new URL('../../dev/test-services.sh', import.meta.url));

export interface TestServices {
  databaseUrl: string;
  redisUrl: string;
  dir: string;
  /** The postmaster (its backends are its children). */
  postgresPid: number;
  redisPid: number;
}

/** A throwaway PostgreSQL + Redis on loopback (scripts/dev/test-services.sh), stopped at cleanup. */
export function startTestServices(): TestServices {
  const out = execFileSync(script, ['start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const values = Object.fromEntries(out.trim().split('\n').map((line) => {
    const at = line.indexOf('=');
    return [line.slice(0, at), line.slice(at + 1)];
  }));
  const dir = values.SESAME_TEST_SERVICES_DIR;
  if (!values.TEST_DATABASE_URL || !values.TEST_REDIS_URL || !dir) throw new Error(`unexpected test-services.sh output:\n${out}`);
  onCleanup('stop PostgreSQL and Redis', () => { execFileSync(script, ['stop', dir], { stdio: 'inherit' }); });
  const pid = (file: string) => Number(readFileSync(file, 'utf8').split('\n')[0]);
  return {
    databaseUrl: values.TEST_DATABASE_URL, redisUrl: values.TEST_REDIS_URL, dir,
    postgresPid: pid(`${dir}/pg/data/postmaster.pid`), redisPid: pid(`${dir}/redis.pid`),
  };
}
