import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisPresenceStore } from '../src/gateway/presence.js';
import { MemoryBus } from '../src/shared/bus/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { redisTarget } from '../src/shared/redis-client.js';
import { hasServices, requireServices } from './support/targets.js';

const logger = createLogger('silent', 'presence-store-test');

/** Script runs (EVALSHA, or EVAL the first time) Redis has processed so far. */
async function scriptRuns(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

describe.runIf(hasServices() || Boolean(process.env.CI))('RedisPresenceStore on Redis', () => {
  it('applies the updates of one turn in one script run; two nodes agree on each principal', async () => {
    const { redisUrl } = requireServices();
    const target = redisTarget(loadConfig({ REDIS_URL: redisUrl }))!;
    const bus = new MemoryBus();
    const a = new RedisPresenceStore(target, 5_000, bus, logger);
    const b = new RedisPresenceStore(target, 5_000, bus, logger);
    const probe = new Redis(redisUrl);
    const run = `${Date.now()}-${Math.random()}`;
    const principals = Array.from({ length: 50 }, (_, i) => ({ id: `p-${run}-${i}`, workspaceId: 'w' }));
    try {
      // Both nodes' liveness keys exist before the counting starts.
      await Promise.all([a.setNodeStatus(principals[0], 'online'), b.setNodeStatus(principals[0], 'online')]);
      const before = await scriptRuns(probe);
      // A burst of agents coming online on node a: their updates arrive in one turn.
      const changed = await Promise.all(principals.slice(1).map((p) => a.setNodeStatus(p, 'online')));
      expect(await scriptRuns(probe) - before).toBe(1);
      expect(changed).toEqual(principals.slice(1).map(() => 'online'));

      // Online on both nodes: the first to leave changes nothing, the second takes it offline.
      expect(await a.setNodeStatus(principals[0], 'offline')).toBeNull();
      expect(await b.setNodeStatus(principals[0], 'away')).toBe('away');
      // Several principals in one run, each with its own outcome.
      const [gone, away, same] = await Promise.all([
        b.setNodeStatus(principals[0], 'offline'),
        a.setNodeStatus(principals[1], 'away'),
        a.setNodeStatus(principals[2], 'online'),
      ]);
      expect([gone, away, same]).toEqual(['offline', 'away', null]);
      expect(await b.statuses(principals.slice(0, 4).map((p) => p.id))).toEqual({
        [principals[0].id]: 'offline', [principals[1].id]: 'away', [principals[2].id]: 'online', [principals[3].id]: 'online',
      });
    } finally {
      await Promise.all(principals.map((p) => a.setNodeStatus(p, 'offline')));
      probe.disconnect();
      await a.close();
      await b.close();
    }
  }, 60_000);
});
