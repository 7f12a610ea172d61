import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './lifecycle.js';

const script = fileURLToPath(new URL('../../dev/test-services.sh', import.meta.url));
const clusterScript = fileURLToPath(new URL('../../dev/redis-cluster.sh', import.meta.url));

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

export interface RedisCluster {
  /** `host:port,…` as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  /** Every node's redis-server process. */
  pids: number[];
}

/** A throwaway Redis Cluster on loopback (scripts/dev/redis-cluster.sh), stopped at cleanup. */
export function startRedisCluster(masters = 3): RedisCluster {
  const out = execFileSync(clusterScript, ['start', String(masters), '0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const values = Object.fromEntries(out.trim().split('\n').map((line) => {
    const at = line.indexOf('=');
    return [line.slice(0, at), line.slice(at + 1)];
  }));
  const dir = values.SESAME_TEST_REDIS_CLUSTER_DIR;
  const nodes = values.TEST_REDIS_CLUSTER_NODES;
  if (!nodes || !dir) throw new Error(`unexpected redis-cluster.sh output:\n${out}`);
  onCleanup('stop the Redis Cluster', () => { execFileSync(clusterScript, ['stop', dir], { stdio: 'inherit' }); });
  const pids = nodes.split(',').map((node) => Number(readFileSync(`${dir}/${node.split(':')[1]}.pid`, 'utf8').trim()));
  return { nodes, pids };
}
