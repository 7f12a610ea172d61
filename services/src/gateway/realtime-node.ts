import type { ServiceContext } from '../shared/context.js';
import { ChannelRosters } from './channel-rosters.js';
import { RedisBus } from '../shared/bus/redis-bus.js';
import { redisTarget } from '../shared/redis-client.js';
import { ConnectionRegistry } from './connection-registry.js';
import { MemoryPresenceStore, PresenceTracker, RedisPresenceStore, presenceTopic } from './presence.js';
import { PresenceFanout } from './presence-fanout.js';
import type { SessionDeps } from './session.js';
import { StartupReads } from './startup-reads.js';
import { StreamHub } from './stream-hub.js';

/**
 * Everything realtime in one process: the stream hub, presence, and the open WebSocket and SSE
 * clients. The gateway serves WebSocket and SSE from it; in single-process mode the api serves
 * SSE from the same node.
 */
export class RealtimeNode {
  readonly hub: StreamHub;
  readonly presence: PresenceTracker;
  /** Who on this node hears which presence change, batched per tick. */
  readonly presenceFanout: PresenceFanout;
  /** Members of the channels followed here: who hears whose presence. */
  readonly rosters: ChannelRosters;
  /** Open WebSocket and SSE connections: heartbeats, revocations, expiry, shutdown. */
  readonly registry: ConnectionRegistry;
  /** The handshakes' reads, one statement per turn for all of them. */
  readonly startup: StartupReads;

  constructor(readonly ctx: ServiceContext) {
    this.hub = new StreamHub(ctx);
    const target = redisTarget(ctx.config);
    const bus = ctx.bus;
    // Classic pub/sub on the presence store's own Redis: its update script announces the changes itself.
    const announceOn = target?.mode === 'single' && bus instanceof RedisBus && bus.isOn(target.url)
      ? (workspaceId: string) => bus.channelOf(presenceTopic(workspaceId))
      : undefined;
    const store = target
      ? new RedisPresenceStore(target, ctx.config.SESAME_PRESENCE_TTL_MS, bus, ctx.logger, announceOn)
      : new MemoryPresenceStore();
    this.presence = new PresenceTracker(store, ctx.bus, ctx.logger);
    this.presenceFanout = new PresenceFanout(this.hub);
    this.registry = new ConnectionRegistry(ctx);
    const startup = new StartupReads(ctx.db);
    this.startup = startup;
    this.rosters = new ChannelRosters((channelId) => startup.rosterOf(channelId));
  }

  get deps(): SessionDeps {
    return { ctx: this.ctx, hub: this.hub, presence: this.presence, presenceFanout: this.presenceFanout, rosters: this.rosters, startup: this.startup };
  }

  /** Closes every client with `GoingAway`; they resume from their cursors elsewhere. */
  closeClients(): void {
    this.registry.closeAll();
  }

  async close(): Promise<void> {
    this.closeClients();
    this.presenceFanout.close();
    this.hub.close();
    await this.presence.close();
  }
}
