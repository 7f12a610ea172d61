import { describe, expect, it } from 'vitest';
import { MemoryPresenceStore, PresenceTracker } from '../src/gateway/presence.js';
import type { BusMessage } from '../src/shared/bus/bus.js';
import { MemoryBus } from '../src/shared/bus/memory-bus.js';
import { createLogger } from '../src/shared/logger.js';

/** The bus messages a tracker publishes on a workspace's presence topic, as their frames. */
function listen(bus: MemoryBus, workspaceId: string) {
  const frames: Array<Record<string, unknown>> = [];
  bus.subscribe(`presence:${workspaceId}`, (message: BusMessage) => {
    if (message.kind === 'ephemeral') frames.push(message.frame);
  });
  return frames;
}

const withoutAt = (frame: Record<string, unknown>) => JSON.parse(JSON.stringify(frame, (key, value: unknown) => (key === 'at' ? undefined : value))) as unknown;

describe('PresenceTracker', () => {
  it('publishes the changes of one turn as one message per workspace, in order; a lone change as a presence frame', async () => {
    const bus = new MemoryBus();
    const tracker = new PresenceTracker(new MemoryPresenceStore(), bus, createLogger('silent', 'test'));
    const one = listen(bus, 'ws_1');
    const two = listen(bus, 'ws_2');

    await Promise.all([
      tracker.set({ id: 'pr_a', workspaceId: 'ws_1' }, 'c1', 'online'),
      tracker.set({ id: 'pr_b', workspaceId: 'ws_1' }, 'c2', 'online'),
      tracker.set({ id: 'pr_z', workspaceId: 'ws_2' }, 'c3', 'online'),
      tracker.set({ id: 'pr_c', workspaceId: 'ws_1' }, 'c4', 'away'),
    ]);
    await tracker.set({ id: 'pr_b', workspaceId: 'ws_1' }, 'c2', 'offline');
    await new Promise((resolve) => setImmediate(resolve));

    expect(one.map(withoutAt)).toEqual([
      { type: 'presence_batch', presence: [{ principalId: 'pr_a', status: 'online' }, { principalId: 'pr_b', status: 'online' }, { principalId: 'pr_c', status: 'away' }] },
      { type: 'presence', principalId: 'pr_b', status: 'offline' },
    ]);
    expect(two.map(withoutAt)).toEqual([{ type: 'presence', principalId: 'pr_z', status: 'online' }]);
    expect(one.every((frame) => typeof (frame.at ?? (frame.presence as Array<{ at: unknown }>)[0].at) === 'string')).toBe(true);
    await tracker.close();
  });

  it('publishes nothing itself when its store announces the changes it makes (the Redis script on the bus\'s own Redis)', async () => {
    const bus = new MemoryBus();
    const store = new MemoryPresenceStore();
    Object.defineProperty(store, 'announcesChanges', { value: true });
    const tracker = new PresenceTracker(store, bus, createLogger('silent', 'test'));
    const frames = listen(bus, 'ws_1');
    await tracker.set({ id: 'pr_a', workspaceId: 'ws_1' }, 'c1', 'online');
    await tracker.set({ id: 'pr_a', workspaceId: 'ws_1' }, 'c1', 'offline');
    await new Promise((resolve) => setImmediate(resolve));
    expect(frames).toEqual([]);
    expect(await tracker.statuses(['pr_a'])).toEqual({ pr_a: 'offline' });
    await tracker.close();
  });
});
