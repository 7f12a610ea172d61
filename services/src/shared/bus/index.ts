import type { Logger } from '../logger.js';
import type { RedisTarget } from '../redis-client.js';
import type { Bus } from './bus.js';
import { ClusterBus } from './cluster-bus.js';
import { MemoryBus } from './memory-bus.js';
import type { PublishBacklogOptions } from './publish-backlog.js';
import { RedisBus } from './redis-bus.js';

export * from './bus.js';
export { ClusterBus } from './cluster-bus.js';
export { MemoryBus } from './memory-bus.js';
export { RedisBus } from './redis-bus.js';

/** In-process without Redis; classic pub/sub on one Redis; sharded pub/sub on a Redis Cluster. */
export function createBus(target: RedisTarget | undefined, logger: Logger, backlog?: PublishBacklogOptions): Bus {
  if (!target) return new MemoryBus();
  return target.mode === 'cluster' ? new ClusterBus(target, logger, backlog) : new RedisBus(target.url, logger, backlog);
}
