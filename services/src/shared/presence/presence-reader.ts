import type { PresenceStatus } from '@sesamespace/sdk/protocol';
import { Redis } from 'ioredis';
import { watchRedis } from '../connection-watch.js';
import type { Logger } from '../logger.js';
import { readStatuses } from './redis-keys.js';

/** Reads principals' current status (the REST snapshot next to the live `presence` frames). */
export interface PresenceReader {
  statuses(principalIds: string[]): Promise<Record<string, PresenceStatus>>;
}

/** For an api process without a gateway: reads the statuses the gateways keep in Redis. */
export class RedisPresenceReader implements PresenceReader {
  private readonly redis: Redis;

  constructor(url: string, logger: Logger) {
    this.redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    watchRedis(this.redis, logger, 'presence-reader', url);
  }

  statuses(ids: string[]) {
    return readStatuses(this.redis, ids);
  }

  close() {
    this.redis.disconnect();
  }
}
