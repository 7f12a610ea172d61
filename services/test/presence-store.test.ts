import { describe, expect, it } from 'vitest';
import { RedisPresenceStore, presenceTopic } from '../src/gateway/presence.js';
import { MemoryBus, RedisBus, type BusMessage } from '../src/shared/bus/index.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { redisTarget } from '../src/shared/redis-client.js';
import { hasServices, requireServices } from './support/targets.js';

const logger = createLogger('silent', 'presence-store-test');

/**
 * Counts `store`'s own script runs from now on (one per `updateMany`, the store's only way to
 * run its script): Redis's global counters (INFO commandstats) move with the files running
 * beside this one.
 */
function countScriptRuns(store: RedisPresenceStore): () => number {
  const runs = store as unknown as { updateMany: (...args: unknown[]) => Promise<string[]> };
  const runScript = runs.updateMany.bind(store);
  let scripts = 0;
  runs.updateMany = (...args) => { scripts++; return runScript(...args); };
  return () => scripts;
}

/** A store whose update script announces its changes on the bus's Redis (as on one Redis in production), with a run id for unique names. */
function announcingStore() {
  const { redisUrl } = requireServices();
  const target = redisTarget(loadConfig({ REDIS_URL: redisUrl }))!;
  const bus = new RedisBus(redisUrl, logger);
  const store = new RedisPresenceStore(target, 5_000, bus, logger, (workspaceId) => bus.channelOf(presenceTopic(workspaceId)));
  return { bus, store, run: `${Date.now()}-${Math.random()}` };
}

describe.runIf(hasServices() || Boolean(process.env.CI))('RedisPresenceStore on Redis', () => {
  it('applies the updates of one turn in one script run; two nodes agree on each principal', async () => {
    const { redisUrl } = requireServices();
    const target = redisTarget(loadConfig({ REDIS_URL: redisUrl }))!;
    const bus = new MemoryBus();
    const a = new RedisPresenceStore(target, 5_000, bus, logger);
    const b = new RedisPresenceStore(target, 5_000, bus, logger);
    const run = `${Date.now()}-${Math.random()}`;
    const principals = Array.from({ length: 50 }, (_, i) => ({ id: `p-${run}-${i}`, workspaceId: 'w' }));
    try {
      // Both nodes' liveness keys exist before the counting starts.
      await Promise.all([a.setNodeStatus(principals[0], 'online'), b.setNodeStatus(principals[0], 'online')]);
      const scriptRuns = countScriptRuns(a);
      // A burst of agents coming online on node a: their updates arrive in one turn.
      const changed = await Promise.all(principals.slice(1).map((p) => a.setNodeStatus(p, 'online')));
      expect(scriptRuns()).toBe(1);
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
      await a.close();
      await b.close();
    }
  }, 60_000);

  it('a stopping node hands its principals over announced by the script too, not by a PUBLISH after it', async () => {
    const { bus, store, run } = announcingStore();
    const principal = { id: `p-${run}`, workspaceId: `w-${run}` };
    const heard: BusMessage[] = [];
    const unsubscribe = bus.subscribe(presenceTopic(principal.workspaceId), (message) => { heard.push(message); });
    try {
      await bus.ready();
      expect(await store.setNodeStatus(principal, 'online')).toBe('online');
      await expect.poll(() => heard.length).toBe(1);
      let published = 0;
      const publish = bus.publish.bind(bus);
      bus.publish = (...args) => { published++; return publish(...args); };
      await store.close();
      await expect.poll(() => heard.length).toBe(2);
      expect(heard[1]).toMatchObject({ kind: 'ephemeral', frame: { type: 'presence', principalId: principal.id, status: 'offline' } });
      expect(published).toBe(0);
    } finally {
      unsubscribe();
      await bus.close();
    }
  }, 60_000);

  it('announces the changes of a script run from the script itself, one PUBLISH per workspace inside it: the bus messages PresenceTracker would publish', async () => {
    const { bus, store, run } = announcingStore();
    const heard: Array<{ workspaceId: string; message: BusMessage }> = [];
    const unsubscribe = [`a-${run}`, `b-${run}`].map((workspaceId) => bus.subscribe(presenceTopic(workspaceId), (message) => { heard.push({ workspaceId, message }); }));
    const principals = [
      { id: `p1-${run}`, workspaceId: `a-${run}` }, { id: `p2-${run}`, workspaceId: `b-${run}` }, { id: `p3-${run}`, workspaceId: `a-${run}` },
    ];
    try {
      expect(store.announcesChanges).toBe(true);
      await bus.ready();
      // The node's liveness key exists before the counting starts (its first update waits for it).
      await store.setNodeStatus({ id: `warm-${run}`, workspaceId: `c-${run}` }, 'online');
      const scriptRuns = countScriptRuns(store);
      const changed = await Promise.all(principals.map((p) => store.setNodeStatus(p, 'online')));
      expect(changed).toEqual(['online', 'online', 'online']);
      expect(scriptRuns()).toBe(1);
      // Two workspaces, two messages (one PUBLISH each, from the script: nothing else publishes here).
      await expect.poll(() => heard.length).toBe(2);
      const at = (heard[0].message as unknown as { frame: { presence: Array<{ at: string }> } }).frame.presence[0].at;
      expect(Date.parse(at)).not.toBeNaN();
      // Byte for byte the messages PresenceTracker would publish: a batch for a's two, a lone frame for b's one.
      expect(heard.map((h) => [h.workspaceId, JSON.stringify(h.message)])).toEqual([
        [`a-${run}`, JSON.stringify({ kind: 'ephemeral', frame: { type: 'presence_batch', presence: [
          { principalId: principals[0].id, status: 'online', at }, { principalId: principals[2].id, status: 'online', at },
        ] } })],
        [`b-${run}`, JSON.stringify({ kind: 'ephemeral', frame: { type: 'presence', principalId: principals[1].id, status: 'online', at } })],
      ]);
      // No change, no announcement; a change to away is announced alone.
      heard.length = 0;
      expect(await Promise.all([store.setNodeStatus(principals[0], 'online'), store.setNodeStatus(principals[1], 'away')])).toEqual([null, 'away']);
      await expect.poll(() => heard.length).toBe(1);
      expect(heard[0]).toMatchObject({ workspaceId: `b-${run}`, message: { kind: 'ephemeral', frame: { type: 'presence', principalId: principals[1].id, status: 'away' } } });
    } finally {
      await Promise.all([...principals, { id: `warm-${run}`, workspaceId: `c-${run}` }].map((p) => store.setNodeStatus(p, 'offline')));
      for (const stop of unsubscribe) stop();
      await store.close();
      await bus.close();
    }
  }, 60_000);
});
