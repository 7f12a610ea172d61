import { Redis } from 'ioredis';
import { watchRedis } from '../connection-watch.js';
import type { Logger } from '../logger.js';
import { metrics } from '../metrics.js';
import { TopicRegistry, type Bus, type BusHandler, type BusMessage } from './bus.js';
import { DEFAULT_BACKLOG_LIMIT, PublishBacklog, type PublishBacklogOptions } from './publish-backlog.js';

const PREFIX = 'sesame:';
// A SUBSCRIBE unanswered this long (a connection lost under it) stops holding the next topics back.
const HOLD_SUBSCRIBE_AT_MOST_MS = 2_000;


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
  /** Whether the publisher's socket is corked until the current synchronous run ends. */
  private corked = false;
  /** Topics waiting for the next SUBSCRIBE (see `subscribeSoon`). */
  private subscribing: { topics: Set<string>; done: Promise<unknown> } | undefined;
  /** The last SUBSCRIBE sent, until Redis answers it (see `subscribeSoon`). */
  private subscribeInFlight: Promise<void> | undefined;
  /** Topics given up this turn, unsubscribed at its end (see `unsubscribeSoon`). */
  private unsubscribing: Set<string> | undefined;
  private readonly readyWaiters = new Set<() => void>();
  private connectedOnce = false;
  /** Publishes made while Redis is unreachable: bounded (see `PublishBacklog`), sent on 'ready'. */
  readonly backlog: PublishBacklog;

  constructor(private readonly url: string, logger: Logger, backlog: PublishBacklogOptions = { limit: DEFAULT_BACKLOG_LIMIT }) {
    const options = { maxRetriesPerRequest: null, lazyConnect: false } as const;
    this.backlog = new PublishBacklog(backlog, logger, 'bus-publisher');
    // No ioredis offline queue for publishes: it grows without limit while Redis is down. A
    // publish made then waits in our bounded backlog instead; ioredis refuses it at once.
    // No auto-pipelining: it holds every command until the end of the event loop's turn
    // (setImmediate), so a committed event waited there for the HTTP reply and whatever else the
    // turn did. The publishes of one synchronous run (a group commit's events) still leave in
    // one write: see `corkUntilRunEnds`.
    this.publisher = new Redis(url, { ...options, enableOfflineQueue: false });
    this.publisher.on('ready', () => { this.sendHeld(); });
    // Subscriptions are (re)issued by us on every 'ready', not by ioredis (see `subscribe`).
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true, autoResubscribe: false });
    // Connection errors are retried by ioredis; the watches log each outage once (and, as
    // 'error' listeners, keep those errors from crashing the process).
    watchRedis(this.publisher, logger, 'bus-publisher', url);
    watchRedis(this.subscriber, logger, 'bus-subscriber', url);
    this.subscriber.on('ready', () => {
      const topics = this.registry.topics();
      if (topics.length > 0) this.track(this.subscriber.subscribe(...topics.map((topic) => PREFIX + topic)));
      // Every registered topic is subscribed just above: a batch held for the next SUBSCRIBE has
      // nothing left to send (a topic left in it would be taken for never sent, and not
      // unsubscribed when its last listener goes), and a SUBSCRIBE sent on the lost connection
      // holds nothing back.
      this.subscribing?.topics.clear();
      this.subscribeInFlight = undefined;
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

  /** Whether this bus is classic pub/sub on the Redis at `url` (compared whole; the URL, which may hold a password, is never exposed). */
  isOn(url: string): boolean {
    return this.url === url;
  }

  /**
   * The Redis channel of `topic`: what a script run on the same Redis (`isOn`) PUBLISHes a bus
   * message to (`JSON.stringify` of a `BusMessage`), heard like one published here.
   */
  channelOf(topic: string): string {
    return PREFIX + topic;
  }

  async publish(topic: string, message: BusMessage, body?: string): Promise<void> {
    const held = { channel: PREFIX + topic, body: body ?? JSON.stringify(message) };
    if (this.publisher.status !== 'ready') { this.backlog.hold(held); return; }
    // Back up, but 'ready' (emitted on the next tick) has not run yet: the held ones go first.
    if (this.backlog.size > 0) this.sendHeld();
    this.corkUntilRunEnds();
    try {
      await this.publisher.publish(held.channel, held.body);
    } catch (err) {
      // The connection went down under this publish: hold it like the ones that follow.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed while we awaited (TypeScript keeps the narrowing, TS#9998)
      if (this.publisher.status === 'ready') throw err;
      this.backlog.hold(held);
    }
  }

  /**
   * Holds the publisher's writes until the current synchronous run ends (a microtask, not a
   * turn of the event loop): every publish made in it — each its own command, written by ioredis
   * at once — leaves in one write, right after the code that published, before anything else
   * the process has to do.
   */
  private corkUntilRunEnds(): void {
    if (this.corked) return;
    const stream = this.publisher.stream as { cork(): void; uncork(): void } | undefined;
    if (!stream) return;
    this.corked = true;
    stream.cork();
    queueMicrotask(() => { this.corked = false; stream.uncork(); });
  }

  /** Sends what was held during an outage, oldest first, in one pipeline. */
  private sendHeld(): void {
    const held = this.backlog.drain();
    if (held.length === 0) return;
    const pipeline = this.publisher.pipeline();
    for (const { channel, body } of held) pipeline.publish(channel, body);
    // A failure here is one more outage: those events reach clients through Postgres.
    pipeline.exec().catch(() => { metrics.eventPublishFailures.inc(held.length); });
  }

  /**
   * SUBSCRIBE goes out only on a ready connection; until then the topic waits in the registry
   * and the 'ready' handler subscribes every topic at once (also after each reconnect). Sent
   * earlier — after the TCP connect but before ioredis's ready check — it would switch the
   * connection to subscriber mode, fail the check, and be lost with the reconnect that follows.
   */
  subscribe(topic: string, handler: BusHandler): () => void {
    if (this.registry.add(topic, handler) && this.subscriber.status === 'ready') {
      // Given up and wanted again in one turn: still subscribed in Redis, nothing to send (an
      // UNSUBSCRIBE then SUBSCRIBE would lose what is published between them).
      if (!this.unsubscribing?.delete(topic)) this.subscribeSoon(topic);
    }
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      if (!this.registry.remove(topic, handler)) return;
      // Still waiting for its turn's SUBSCRIBE: it never reaches Redis.
      if (this.subscribing?.topics.delete(topic)) return;
      if (this.subscriber.status === 'ready') this.unsubscribeSoon(topic);
    };
  }

  /** The topics given up during one turn leave in one UNSUBSCRIBE at its end, unless wanted again by then. */
  private unsubscribeSoon(topic: string): void {
    if (!this.unsubscribing) {
      const topics = new Set<string>();
      this.unsubscribing = topics;
      setImmediate(() => {
        this.unsubscribing = undefined;
        if (topics.size === 0 || this.subscriber.status !== 'ready') return;
        this.track(this.subscriber.unsubscribe(...[...topics].map((t) => PREFIX + t)));
      });
    }
    this.unsubscribing.add(topic);
  }

  /**
   * The topics subscribed during one turn of the event loop, or while the previous SUBSCRIBE is
   * under way, leave in one SUBSCRIBE (at the end of the turn, or when that one is answered): a
   * burst of connections (each with its own inbox topic) costs about one command and one write
   * per round trip to Redis, not one per turn. `ready()` waits for it like for any other
   * subscription. A SUBSCRIBE unanswered after `HOLD_SUBSCRIBE_AT_MOST_MS` stops holding the next.
   */
  private subscribeSoon(topic: string): void {
    if (!this.subscribing) {
      const topics = new Set<string>();
      const done = new Promise<unknown>((resolve) => {
        const send = () => {
          this.subscribing = undefined;
          // Not ready any more: the 'ready' handler subscribes every registered topic.
          if (topics.size === 0 || this.subscriber.status !== 'ready') { resolve(undefined); return; }
          const sent = this.subscriber.subscribe(...[...topics].map((t) => PREFIX + t));
          const answered = sent.then(() => {}, () => {});
          this.subscribeInFlight = answered;
          void answered.then(() => { if (this.subscribeInFlight === answered) this.subscribeInFlight = undefined; });
          resolve(sent);
        };
        setImmediate(() => {
          const previous = this.subscribeInFlight;
          if (!previous) { send(); return; }
          let timer: NodeJS.Timeout | undefined;
          void Promise.race([previous, new Promise((resolve) => { timer = setTimeout(resolve, HOLD_SUBSCRIBE_AT_MOST_MS); timer.unref(); })])
            .then(() => { clearTimeout(timer); send(); });
        });
      });
      this.subscribing = { topics, done };
      this.track(done);
    }
    this.subscribing.topics.add(topic);
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
