import type { PresenceStatus } from '@sesamespace/sdk/protocol';
import type { Logger } from '../logger.js';
import { createRedisClient, type RedisClient, type RedisTarget } from '../redis-client.js';
import { readStatuses } from './redis-keys.js';

/** Reads principals' current status (the REST snapshot next to the live `presence` frames). */
export interface PresenceReader {
  statuses(principalIds: string[]): Promise<Record<string, PresenceStatus>>;
}

/** For an api process without a gateway: reads the statuses the gateways keep in Redis. */
export class RedisPresenceReader implements PresenceReader {
  private readonly redis: RedisClient;

  constructor(target: RedisTarget, logger: Logger) {
    this.redis = createRedisClient(target, logger, 'presence-reader', { maxRetriesPerRequest: 1, lazyConnect: true });
  }

  statuses(ids: string[]) {
    return readStatuses(this.redis, ids);
  }

  close() {
    this.redis.disconnect();
  }
}
