import type { Cluster, Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { createRedisClient, type RedisTarget } from '../redis-client.js';
import { metrics } from '../metrics.js';
import { TopicRegistry, type Bus, type BusHandler, type BusMessage } from './bus.js';
import { DEFAULT_BACKLOG_LIMIT, PublishBacklog, type PublishBacklogOptions } from './publish-backlog.js';

const PREFIX = 'sesame:';
const RECONNECT_COALESCE_MS = 250;

/**
 * Topics every gateway node must hear whatever streams its clients follow (today revocations):
 * few messages, so classic pub/sub, which a Redis Cluster broadcasts to every node, is fine.
 * Everything else — stream topics (a channel id, `inbox:<principal>`) and per-workspace presence
 * — is sharded.
 */
function isControlTopic(topic: string): boolean {
  return topic.startsWith('control:');
}

/**
 * The bus on a Redis Cluster (`REDIS_CLUSTER_NODES`). Stream topics use sharded pub/sub
 * (Redis ≥ 7): `SPUBLISH` goes to the master owning the topic's slot and only that shard's
 * subscribers hear it, so fan-out capacity grows with the shards, where classic `PUBLISH` on a
 * cluster is broadcast to every node. ioredis's `shardedSubscribers` keeps one subscriber
 * connection per master that owns a subscribed topic, and after a topology change (a failover, a
 * resharding) re-issues the `SSUBSCRIBE`s on the new owners.
 *
 * At-most-once like `RedisBus`: what is published while a shard fails over is lost, and
 * listeners hear `onReconnect` once the subscriptions are back (ioredis's `subscribersReady`)
 * and re-check stream heads against Postgres, which fills the gap.
 */
export class ClusterBus implements Bus {
  private readonly registry = new TopicRegistry();
  private readonly client: Cluster;
  private readonly reconnectListeners = new Set<() => void>();
  private pending: Promise<unknown>[] = [];
  private readyOnce = false;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /**
   * Publishes made while the cluster is unreachable, bounded (see `PublishBacklog`). The cluster
   * client keeps its offline queue — subscriptions wait there while it discovers the topology —
   * so publishes are held here before they can reach it.
   */
  readonly backlog: PublishBacklog;
  /**
   * Publishes sent but not yet answered. While one master is down and the client still `ready`
   * (the other masters answer), the commands for that master's slots wait inside ioredis until a
   * failover or its return — without bound on a cluster without replicas. Past the backlog's
   * count limit new stream and presence publishes are dropped and counted instead, as during an
   * outage: their events reach clients from Postgres. (No byte bound here: a healthy cluster can
   * have a few large batches in flight.)
   */
  private inFlight = 0;
  /** Publishes dropped since the cluster stopped answering (0: not dropping). */
  private droppedUnanswered = 0;
  private readonly inFlightLimit: number;

  constructor(target: Extract<RedisTarget, { mode: 'cluster' }>, private readonly logger: Logger, backlog: PublishBacklogOptions = { limit: DEFAULT_BACKLOG_LIMIT }) {
    this.backlog = new PublishBacklog(backlog, logger, 'bus');
    this.inFlightLimit = Math.max(1, backlog.limit);
    // One cluster client: commands (SPUBLISH, PUBLISH) on the node connections, classic
    // SUBSCRIBE on one node connection of its own, SSUBSCRIBE on one connection per master.
    this.client = createRedisClient(target, logger, 'bus', { maxRetriesPerRequest: null }, { shardedSubscribers: true }) as Cluster;
    // A failover re-subscribes in bursts (ioredis retries the new owner until it is promoted):
    // one notice per burst, so listeners re-check heads and credentials once, not per retry.
    const reconnected = () => {
      if (this.closed || this.reconnectTimer) return;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        if (this.closed) return;
        for (const listener of [...this.reconnectListeners]) listener();
      }, RECONNECT_COALESCE_MS);
      this.reconnectTimer.unref();
    };
    this.client.on('ready', () => {
      this.sendHeld();
      if (this.readyOnce) reconnected();
      this.readyOnce = true;
    });
    // After each re-subscription on a changed topology (the first one included, harmlessly:
    // a head check finds nothing new).
    this.client.on('subscribersReady', () => { if (this.readyOnce) reconnected(); });
    const deliver = (channel: Buffer, payload: Buffer) => {
      const topic = channel.toString().slice(PREFIX.length);
      let message: BusMessage;
      try { message = JSON.parse(payload.toString()) as BusMessage; } catch { return; }
      this.registry.dispatch(topic, message);
    };
    this.client.on('smessageBuffer', deliver);
    this.client.on('messageBuffer', deliver);
  }

  async publish(topic: string, message: BusMessage, body?: string): Promise<void> {
    const held = { channel: PREFIX + topic, body: body ?? JSON.stringify(message) };
    if (this.client.status !== 'ready') { this.backlog.hold(held); return; }
    if (this.backlog.size > 0) this.sendHeld();
    await this.send(held.channel, held.body);
  }

  private send(channel: string, body: string): Promise<unknown> {
    // Control messages (revocations) are few and must not be dropped: only stream and presence publishes are.
    const control = isControlTopic(channel.slice(PREFIX.length));
    if (!control && this.inFlight >= this.inFlightLimit) {
      if (this.droppedUnanswered === 0) {
        this.logger.warn({ role: 'bus', inFlight: this.inFlight, limit: this.inFlightLimit }, 'redis cluster not answering publishes (a master down?): dropping new bus publishes past the limit; clients fetch the gap from the database');
      }
      this.droppedUnanswered++;
      metrics.busPublishesDropped.inc();
      return Promise.resolve();
    }
    this.inFlight++;
    const sent = control ? this.classicPublisher().publish(channel, body) : this.client.spublish(channel, body);
    const settle = () => {
      this.inFlight--;
      if (this.droppedUnanswered > 0 && this.inFlight < this.inFlightLimit / 2) {
        this.logger.info({ role: 'bus', dropped: this.droppedUnanswered }, 'redis cluster answering publishes again');
        this.droppedUnanswered = 0;
      }
    };
    sent.then(settle, settle);
    return sent;
  }

  /** Publishes sent and not yet answered (bounded by the backlog's count limit). */
  get unanswered(): number {
    return this.inFlight;
  }

  /** Sends what was held during an outage, oldest first (a failure: those reach clients through Postgres). */
  private sendHeld(): void {
    for (const { channel, body } of this.backlog.drain()) this.send(channel, body).catch(() => { metrics.eventPublishFailures.inc(); });
  }

  /**
   * A cluster sends a key-less PUBLISH to a random node, and messages entering the cluster bus
   * at different nodes can overtake each other. Every publisher picks the same master (the
   * lowest address) instead, so control messages keep their order while the topology holds.
   */
  private classicPublisher(): { publish(channel: string, message: string): Promise<number> } {
    const key = (node: Redis) => `${node.options.host ?? ''}:${String(node.options.port ?? 0)}`;
    const masters = this.client.nodes('master').sort((a, b) => key(a).localeCompare(key(b)));
    return masters[0] ?? this.client;
  }

  subscribe(topic: string, handler: BusHandler): () => void {
    // ioredis remembers the channel (and re-subscribes it on every new topology) from here on;
    // sent before the cluster is ready, the command waits in the offline queue.
    if (this.registry.add(topic, handler)) this.track(isControlTopic(topic) ? this.client.subscribe(PREFIX + topic) : this.client.ssubscribe(PREFIX + topic));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      if (this.registry.remove(topic, handler)) this.track(isControlTopic(topic) ? this.client.unsubscribe(PREFIX + topic) : this.client.sunsubscribe(PREFIX + topic));
    };
  }

  private track(promise: Promise<unknown>) {
    const tracked = promise.catch(() => {});
    this.pending.push(tracked);
    void tracked.finally(() => { this.pending = this.pending.filter((p) => p !== tracked); });
  }

  async ready(): Promise<void> {
    if (this.client.status !== 'ready' && !this.closed) {
      await new Promise<void>((resolve) => {
        const done = () => { this.client.off('ready', done); this.client.off('end', done); resolve(); };
        this.client.on('ready', done);
        this.client.on('end', done);
      });
    }
    await Promise.all(this.pending);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.client.disconnect();
  }
}
