import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisClusterNodes, type Config, type RedisNodeAddress } from './config.js';
import { watchRedis } from './connection-watch.js';
import type { Logger } from './logger.js';

/**
 * Where this process's Redis is: one server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES`, seed nodes). Undefined in the embedded mode (no Redis at all).
 */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: RedisNodeAddress[] };

/** Either client: both speak the same commands; a cluster routes each key to its slot's master. */
export type RedisClient = Redis | Cluster;

export function redisTarget(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): RedisTarget | undefined {
  if (config.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: parseRedisClusterNodes(config.REDIS_CLUSTER_NODES) };
  if (config.REDIS_URL) return { mode: 'single', url: config.REDIS_URL };
  return undefined;
}

/** The target for log lines: a URL (its password is redacted by the watch) or the seed list. */
function describeRedisTarget(target: RedisTarget): string {
  return target.mode === 'single' ? target.url : target.nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
}

/**
 * Every Redis connection of the services is made here, so each works on both targets. The
 * per-connection options (`RedisOptions`) apply to every node connection of a cluster;
 * `cluster` adds the cluster-only ones (e.g. `shardedSubscribers` for the bus).
 *
 * Cluster defaults: masters only (`scaleReads: 'master'`), so a read sees the last write — the
 * rate-limit and login counters, presence — and a failover is ridden out by retrying a command
 * on the new topology (`retryDelayOnFailover`, `retryDelayOnClusterDown`).
 */
export function createRedisClient(
  target: RedisTarget, logger: Logger, role: string, options: RedisOptions = {}, cluster: Partial<ClusterOptions> = {},
): RedisClient {
  const client = target.mode === 'single' ? new Redis(target.url, options) : newCluster(target.nodes, options, cluster);
  watchRedis(client, logger, role, describeRedisTarget(target));
  return client;
}

function newCluster(nodes: RedisNodeAddress[], options: RedisOptions, cluster: Partial<ClusterOptions>): Cluster {
  // The offline queue and lazy connect are the cluster object's (it queues while it discovers
  // the topology); the rest applies to each node connection. Node connections are reconnected
  // by the cluster, never by their own retry strategy.
  const { enableOfflineQueue = true, lazyConnect = false, retryStrategy: _ignored, ...nodeOptions } = options;
  return new Cluster(nodes, {
    scaleReads: 'master', retryDelayOnFailover: 200, retryDelayOnClusterDown: 300,
    enableOfflineQueue, lazyConnect, redisOptions: nodeOptions, ...cluster,
  });
}
