import type { PresenceStatus } from '@sesamespace/sdk/protocol';
import type { RedisClient } from '../redis-client.js';

/**
 * Where presence lives in Redis: written by the gateways' `RedisPresenceStore`, read by them
 * and by api processes (`RedisPresenceReader`).
 *
 * Every key carries the hash tag `{sesame:presence}`, so on a Redis Cluster they all live in one
 * slot: the presence script reads node liveness keys it cannot name in KEYS, `MULTI` and `MGET`
 * span several keys, and none of that may cross slots. The cost is that presence sits on one
 * shard; its load is connection churn and heartbeats, small next to message fan-out.
 */
export const PRESENCE_KEY_PREFIX = '{sesame:presence}:';
export const nodeAliveKey = (nodeId: string) => `${PRESENCE_KEY_PREFIX}alive:${nodeId}`;
export const principalKey = (principalId: string) => `${PRESENCE_KEY_PREFIX}principal:${principalId}`;
export const statusKey = (principalId: string) => `${PRESENCE_KEY_PREFIX}status:${principalId}`;
export const nodePrincipalsKey = (nodeId: string) => `${PRESENCE_KEY_PREFIX}node-principals:${nodeId}`;
export const NODES_KEY = `${PRESENCE_KEY_PREFIX}nodes`;

function toStatus(value: string | null): PresenceStatus {
  return value === 'online' || value === 'away' ? value : 'offline';
}

/** Each principal's overall status as the gateways last computed it. */
export async function readStatuses(redis: RedisClient, ids: string[]): Promise<Record<string, PresenceStatus>> {
  if (ids.length === 0) return {};
  const values = await redis.mget(ids.map(statusKey));
  return Object.fromEntries(ids.map((id, i) => [id, toStatus(values[i] ?? null)]));
}
