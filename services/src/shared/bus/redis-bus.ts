import { Redis } from 'ioredis';
import { watchRedis } from '../connection-watch.js';
import type { Logger } from '../logger.js';
import { TopicRegistry, type Bus, type BusHandler, type BusMessage } from './bus.js';

const PREFIX = 'sesame:';

/**
 * Redis pub/sub bus: one publisher and one subscriber connection per process, one upstream
 * SUBSCRIBE per topic regardless of how many local listeners want it.
 *
 * Redis pub/sub is at-most-once: messages published while the subscriber is reconnecting are
 * gone. That is fine by design — listeners hear `onReconnect` and re-check stream heads against
 * Postgres, which fills any gap.
 */
export class RedisBus implements Bus {
  private readonly registry = new TopicRegistry();
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly reconnectListeners = new Set<() => void>();
  private pending: Promise<unknown>[] = [];
  private readonly readyWaiters = new Set<() => void>();
  private connectedOnce = false;

  constructor(url: string, logger: Logger) {
    const options = { maxRetriesPerRequest: null, enableOfflineQueue: true, lazyConnect: false } as const;
    this.publisher = new Redis(url, options);
    // Subscriptions are (re)issued by us on every 'ready', not by ioredis (see `subscribe`).
    this.subscriber = new Redis(url, { ...options, autoResubscribe: false });
    // Connection errors are retried by ioredis; the watches log each outage once (and, as
    // 'error' listeners, keep those errors from crashing the process).
    watchRedis(this.publisher, logger, 'bus-publisher', url);
    watchRedis(this.subscriber, logger, 'bus-subscriber', url);
    this.subscriber.on('ready', () => {
      const topics = this.registry.topics();
      if (topics.length > 0) this.track(this.subscriber.subscribe(...topics.map((topic) => PREFIX + topic)));
      for (const resolve of [...this.readyWaiters]) resolve();
      this.readyWaiters.clear();
      if (this.connectedOnce) for (const listener of [...this.reconnectListeners]) listener();
      this.connectedOnce = true;
    });
    this.subscriber.on('messageBuffer', (channel: Buffer, payload: Buffer) => {
      const topic = channel.toString().slice(PREFIX.length);
      let message: BusMessage;
      try { message = JSON.parse(payload.toString()) as BusMessage; } catch { return; }
      this.registry.dispatch(topic, message);
    });
  }

  async publish(topic: string, message: BusMessage): Promise<void> {
    await this.publisher.publish(PREFIX + topic, JSON.stringify(message));
  }

  /**
   * SUBSCRIBE goes out only on a ready connection; until then the topic waits in the registry
   * and the 'ready' handler subscribes every topic at once (also after each reconnect). Sent
   * earlier — after the TCP connect but before ioredis's ready check — it would switch the
   * connection to subscriber mode, fail the check, and be lost with the reconnect that follows.
   */
  subscribe(topic: string, handler: BusHandler): () => void {
    if (this.registry.add(topic, handler) && this.subscriber.status === 'ready') this.track(this.subscriber.subscribe(PREFIX + topic));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      if (this.registry.remove(topic, handler) && this.subscriber.status === 'ready') this.track(this.subscriber.unsubscribe(PREFIX + topic));
    };
  }

  private track(promise: Promise<unknown>) {
    const tracked = promise.catch(() => {});
    this.pending.push(tracked);
    void tracked.finally(() => { this.pending = this.pending.filter((p) => p !== tracked); });
  }

  async ready(): Promise<void> {
    if (this.subscriber.status !== 'ready') await new Promise<void>((resolve) => this.readyWaiters.add(resolve));
    await Promise.all(this.pending);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const resolve of [...this.readyWaiters]) resolve();
    this.readyWaiters.clear();
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }
}
