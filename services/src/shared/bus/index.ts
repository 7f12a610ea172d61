import type { Logger } from '../logger.js';
import type { Bus } from './bus.js';
import { MemoryBus } from './memory-bus.js';
import { RedisBus } from './redis-bus.js';

export * from './bus.js';
export { MemoryBus } from './memory-bus.js';
export { RedisBus } from './redis-bus.js';

export function createBus(redisUrl: string | undefined, logger: Logger): Bus {
  return redisUrl ? new RedisBus(redisUrl, logger) : new MemoryBus();
}
