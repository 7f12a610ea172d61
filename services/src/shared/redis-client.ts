import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { readFileSync } from 'node:fs';
import { ConfigError, parseRedisClusterNodes, type Config, type RedisNodeAddress } from './config.js';
import { redactCredentials, redactUrl, watchRedis } from './connection-watch.js';
import type { Logger } from './logger.js';

/**
 * Where this process's Redis is: one server (`REDIS_URL`) or a Redis Cluster
 * (`REDIS_CLUSTER_NODES`, seed nodes). Undefined in the embedded mode (no Redis at all).
 */
export type RedisTarget =
  | { mode: 'single'; url: string; access?: RedisAccess }
  | { mode: 'cluster'; nodes: RedisNodeAddress[]; access?: RedisAccess };

/**
 * How to authenticate to (every node of) the Redis, beyond what a `REDIS_URL` carries itself:
 * `REDIS_USERNAME`/`REDIS_PASSWORD` (an ACL user, or the `requirepass` password), `REDIS_TLS`
 * (a cluster's nodes over TLS) and `REDIS_TLS_CA_FILE` (the CA that signed the servers'
 * certificates, when it is not a public one).
 */
export interface RedisAccess { username?: string; password?: string; tls?: boolean; caFile?: string }

type RedisConfig = Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_USERNAME' | 'REDIS_PASSWORD' | 'REDIS_TLS' | 'REDIS_TLS_CA_FILE'>;

/** Either client: both speak the same commands; a cluster routes each key to its slot's master. */
export type RedisClient = Redis | Cluster;

export function redisTarget(config: RedisConfig): RedisTarget | undefined {
  const access: RedisAccess = {
    ...(config.REDIS_USERNAME ? { username: config.REDIS_USERNAME } : {}),
    ...(config.REDIS_PASSWORD ? { password: config.REDIS_PASSWORD } : {}),
    ...(config.REDIS_TLS ? { tls: true } : {}),
    ...(config.REDIS_TLS_CA_FILE ? { caFile: config.REDIS_TLS_CA_FILE } : {}),
  };
  const withAccess = Object.keys(access).length ? { access } : {};
  if (config.REDIS_CLUSTER_NODES) return { mode: 'cluster', nodes: parseRedisClusterNodes(config.REDIS_CLUSTER_NODES), ...withAccess };
  if (config.REDIS_URL) return { mode: 'single', url: withCredentials(config.REDIS_URL, access), ...withAccess };
  return undefined;
}

/**
 * A `REDIS_URL` with `REDIS_USERNAME`/`REDIS_PASSWORD` written into it (percent-encoded; ioredis
 * decodes them), so that every connection made from the URL alone carries them too.
 */
function withCredentials(url: string, access: RedisAccess): string {
  if (!access.username && !access.password) return url;
  const parsed = new URL(url);
  if (access.username) parsed.username = encodeURIComponent(access.username);
  if (access.password) parsed.password = encodeURIComponent(access.password);
  return parsed.toString();
}

/** The connection options `access` stands for (a `rediss://` URL turns TLS on by itself). */
function accessOptions(access: RedisAccess | undefined): RedisOptions {
  if (!access) return {};
  const ca = access.caFile ? readFileSync(access.caFile, 'utf8') : undefined;
  return {
    ...(access.username ? { username: access.username } : {}),
    ...(access.password ? { password: access.password } : {}),
    ...(access.tls || ca ? { tls: ca ? { ca } : {} } : {}),
  };
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
  const connection = { ...options, ...accessOptions(target.access) };
  const client = target.mode === 'single' ? new Redis(target.url, connection) : newCluster(target.nodes, connection, cluster);
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

/**
 * At start, one connection to the Redis (to each seed node of a cluster, at once) to find out
 * whether it takes our credentials and our TLS. A refusal is a configuration error, naming the
 * variable to fix and never echoing a secret; a Redis that does not answer within `timeoutMs`
 * is not (the clients keep retrying, as they would later in an outage).
 */
export async function verifyRedisAccess(target: RedisTarget, timeoutMs = 5_000): Promise<void> {
  const seeds = target.mode === 'single' ? [target.url] : target.nodes;
  const refusals = await Promise.all(seeds.map(async (seed) => {
    const options: RedisOptions = {
      ...accessOptions(target.access), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
      retryStrategy: () => null, connectTimeout: timeoutMs, commandTimeout: timeoutMs,
    };
    const client = typeof seed === 'string' ? new Redis(seed, options) : new Redis({ ...options, host: seed.host, port: seed.port });
    const where = typeof seed === 'string' ? redactUrl(seed) : `${seed.host.includes(':') ? `[${seed.host}]` : seed.host}:${String(seed.port)}`;
    let failure: Error | undefined;
    client.on('error', (err: Error) => { failure ??= err; });
    try {
      await client.connect();
      await client.ping();
      return undefined;
    } catch (err) {
      return accessRefusal(target, where, failure ?? (err as Error));
    } finally {
      client.disconnect();
    }
  }));
  const refusal = refusals.find((r) => r !== undefined);
  if (refusal) throw refusal;
}

const TLS_FAILURES = /CERT|SELF_SIGNED|UNABLE_TO_|ERR_TLS|ERR_SSL/;

/** A ConfigError when `err` says the server refused our credentials or our TLS; undefined otherwise. */
function accessRefusal(target: RedisTarget, where: string, err: Error): ConfigError | undefined {
  const secrets = [target.access?.password, target.mode === 'single' ? new URL(target.url).password : undefined].filter((s): s is string => Boolean(s));
  let reason = redactCredentials(err.message);
  for (const secret of secrets) reason = reason.split(secret).join('***');
  // REDIS_PASSWORD is written into the URL too (`withCredentials`): a password in the URL without it came with REDIS_URL.
  const urlCarriesPassword = target.mode === 'single' && !target.access?.password && new URL(target.url).password !== '';
  const passwordVariable = urlCarriesPassword ? 'REDIS_URL' : 'REDIS_PASSWORD';
  if (/^NOAUTH/.test(reason)) {
    return new ConfigError([{ variable: passwordVariable, message: `Redis at ${where} requires a password and none is configured: set REDIS_PASSWORD (and REDIS_USERNAME for an ACL user) (${reason})` }]);
  }
  if (/^WRONGPASS|invalid (username-)?password/i.test(reason)) {
    return new ConfigError([{ variable: passwordVariable, message: `Redis at ${where} refused the configured credentials (${reason})` }]);
  }
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (TLS_FAILURES.test(code)) {
    const variable = target.mode === 'single' ? 'REDIS_URL' : target.access?.caFile ? 'REDIS_TLS_CA_FILE' : 'REDIS_TLS';
    return new ConfigError([{ variable, message: `TLS with Redis at ${where} failed (${code}: ${reason})` }]);
  }
  return undefined;
}
