import { toWireEventFrame, type SesameEvent } from '@sesamespace/sdk/protocol';
import type { BusMessage } from '../shared/bus/index.js';
import type { ServiceContext } from '../shared/context.js';
import { readEventFrames, readMovedHeads } from './stored-events.js';

/**
 * A frame serialised once per node as UTF-8 JSON bytes: a thousand connections following a
 * channel share one buffer instead of encoding the same string a thousand times.
 */
export type WireFrame = Buffer;

export const toWireFrame = (value: unknown): WireFrame => Buffer.from(JSON.stringify(value));

/** A durable event as it reaches a node, serialised once for every connection that wants it. */
export interface HubEvent {
  event: SesameEvent;
  frame: WireFrame;
}

export type EphemeralFrame = Record<string, unknown> & { type: string };

/** Something that follows one topic on this node (a connection's view of one stream). */
export interface TopicListener {
  onEvent?(event: HubEvent): void;
  onEphemeral?(frame: EphemeralFrame, serialized: WireFrame): void;
  /** The stream's head (from Postgres) is `head`: a listener behind it has a gap to fill. */
  onHead?(head: number): void;
}

interface Topic {
  listeners: Set<TopicListener>;
  /**
   * `listeners` as an array, made when a message is first delivered after a change: a delivery
   * loops over a copy (a listener may unfollow meanwhile), and copying a thousand listeners per
   * message was a thousand-slot array of garbage per bus message.
   */
  snapshot: readonly TopicListener[] | undefined;
  unsubscribe: () => void;
  /** Highest seq this node knows exists (live events and head polls). */
  head: number;
  /** Highest seq heard on the bus. */
  liveHead: number;
  /** The stream's head in Postgres at the previous poll (-1 before the first). */
  polledHead: number;
  durable: boolean;
}

/** Most streams one head poll statement asks about. */
const HEAD_QUERY_CHUNK = 5_000;
const SUBSCRIBE_WAIT_MS = 2_000;

let burst = false;
/** While a burst is being delivered to one listener: what to run once that listener has its frames. */
let releases: Array<() => void> | undefined;

/**
 * Whether the bus messages being delivered now came several at once (in one read from Redis):
 * a transport then holds back even a connection's first frame, so that all of the burst's frames
 * to it leave in one write. A lone message is written to each connection at once.
 */
export function deliveringBurst(): boolean {
  return burst;
}

/**
 * For a transport holding a burst's frames back (a corked socket): `release` runs as soon as the
 * listener being delivered to has every frame of the burst's run of messages on its topic, so
 * that connection's frames leave before the next listener's are handed over, not once the whole
 * burst has gone to every listener. False outside such a delivery (release at the tick's end).
 */
export function releaseWhenListenerDone(release: () => void): boolean {
  if (!releases) return false;
  releases.push(release);
  return true;
}

/** The topic's listeners as they are now, in an array that no later follow or unfollow changes. */
function listenersOf(topic: Topic): readonly TopicListener[] {
  return (topic.snapshot ??= [...topic.listeners]);
}

/** Delivering one bus message to one listener, prepared once for every listener (one frame). */
type Delivery = (listener: TopicListener) => void;

/**
 * One per process: holds a single bus subscription per topic however many connections follow
 * it, serialises each event once, tracks stream heads, and — because a bus publish can be lost
 * (Redis restart, a crashed api between commit and publish) — polls the heads of every stream it
 * serves from Postgres so listeners that fell behind fill the gap from there.
 */
export class StreamHub {
  private readonly topics = new Map<string, Topic>();
  /** Reads issued in the current tick, by stream, cursor and limit (see `read`). */
  private readonly reads = new Map<string, Promise<HubEvent[]>>();
  /** Bus messages heard in the current synchronous run, delivered together (see `deliverHeard`). */
  private heard: Array<[Topic, BusMessage]> = [];
  private readonly pollTimer: NodeJS.Timeout;
  private readonly unhookReconnect: () => void;
  private polling = false;
  private closed = false;

  constructor(private readonly ctx: ServiceContext) {
    this.pollTimer = setInterval(() => void this.pollHeads(), ctx.config.SESAME_HEAD_POLL_INTERVAL_MS).unref();
    // Messages published while the bus was reconnecting are gone: check every head at once.
    this.unhookReconnect = ctx.bus.onReconnect(() => void this.pollHeads(true));
  }

  /**
   * Adds `listener` to `topic`, subscribing upstream for the first one. Resolves once the
   * upstream subscription is active, so a read from Postgres made afterwards cannot miss an
   * event that is published later. Returns the function that removes the listener.
   */
  async follow(topic: string, listener: TopicListener, durable = true): Promise<() => void> {
    let entry = this.topics.get(topic);
    if (!entry) {
      const created: Topic = { listeners: new Set(), snapshot: undefined, head: 0, liveHead: 0, polledHead: -1, durable, unsubscribe: () => {} };
      created.unsubscribe = this.ctx.bus.subscribe(topic, (message) => { this.hear(created, message); });
      this.topics.set(topic, created);
      entry = created;
    }
    entry.listeners.add(listener);
    entry.snapshot = undefined;
    // While the bus is down a subscription cannot become active; the head poll (and the poll
    // after the bus reconnects) delivers from Postgres meanwhile, so do not hold the client.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.ctx.bus.ready(), new Promise((resolve) => { timer = setTimeout(resolve, SUBSCRIBE_WAIT_MS); })]);
    clearTimeout(timer);
    timer = undefined; // the closure returned below shares this scope: it must not keep the timer alive
    const owned = entry;
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      owned.listeners.delete(listener);
      owned.snapshot = undefined;
      if (owned.listeners.size === 0 && this.topics.get(topic) === owned) {
        this.topics.delete(topic);
        owned.unsubscribe();
      }
    };
  }

  /** What this node knows of each stream's head (0 when unknown). */
  knownHead(stream: string): number {
    return this.topics.get(stream)?.head ?? 0;
  }

  /** Records heads read from Postgres by someone else (a connection's start-up read). */
  noteHeads(heads: Record<string, number>): void {
    for (const [stream, head] of Object.entries(heads)) {
      const entry = this.topics.get(stream);
      if (entry && head > entry.head) entry.head = head;
    }
  }

  /**
   * Committed events of `stream` after `afterSeq` (at most `limit`), framed once. Identical
   * reads issued in one synchronous run (one bus message or head poll waking every follower of
   * a channel) share one query: when a thousand followers need the same gap filled, Postgres is
   * asked once, not a thousand times. Never longer: a read issued later must see what was
   * committed since, and the shared query runs after every caller that joined it.
   */
  read(stream: string, afterSeq: number, limit: number): Promise<HubEvent[]> {
    const key = `${stream}\u0000${String(afterSeq)}\u0000${String(limit)}`;
    let pending = this.reads.get(key);
    if (!pending) {
      pending = readEventFrames(this.ctx.db, stream, afterSeq, limit);
      this.reads.set(key, pending);
      queueMicrotask(() => this.reads.delete(key));
    }
    return pending;
  }

  async publishEphemeral(topic: string, frame: EphemeralFrame): Promise<void> {
    await this.ctx.bus.publish(topic, { kind: 'ephemeral', frame });
  }

  /**
   * The bus hands over the messages of one read from Redis one by one, synchronously: they are
   * delivered a microtask later, all together, so that connections know whether more frames
   * follow (`deliveringBurst`). In arrival order; the delay is a microtask, not a tick.
   */
  private hear(topic: Topic, message: BusMessage): void {
    if (this.heard.push([topic, message]) === 1) queueMicrotask(this.deliverHeard);
  }

  /**
   * Delivers what one read brought, in arrival order. A burst's consecutive messages on one topic
   * (a run) go listener by listener: each listener gets all of the run's messages, in order, before
   * the next gets any, and a transport that held them back releases them then
   * (`releaseWhenListenerDone`): the first connection's frames leave at once, the last one's when
   * they did before. Each listener still gets exactly the frames, in the order, that going message
   * by message would give it (runs are delivered one after the other).
   */
  private readonly deliverHeard = (): void => {
    const heard = this.heard;
    this.heard = [];
    if (this.closed) return;
    burst = heard.length > 1;
    try {
      for (let start = 0; start < heard.length;) {
        const topic = heard[start][0];
        let end = start + 1;
        while (end < heard.length && heard[end][0] === topic) end++;
        const deliveries: Delivery[] = [];
        for (let i = start; i < end; i++) {
          const delivery = this.prepare(topic, heard[i][1]);
          if (delivery) deliveries.push(delivery);
        }
        if (deliveries.length) this.deliverRun(topic, deliveries);
        start = end;
      }
    } finally {
      burst = false;
    }
  };

  /** Updates the topic's heads and serialises the frame once: what is left is per listener. */
  private prepare(topic: Topic, message: BusMessage): Delivery | undefined {
    if (message.kind === 'event') {
      const event = message.event;
      if (event.seq > topic.head) topic.head = event.seq;
      if (event.seq > topic.liveHead) topic.liveHead = event.seq;
      const hubEvent: HubEvent = { event, frame: toWireFrame(toWireEventFrame(event)) };
      return (listener) => { listener.onEvent?.(hubEvent); };
    }
    if (message.kind === 'ephemeral') {
      const { frame } = message;
      const serialized = toWireFrame(frame);
      return (listener) => { listener.onEphemeral?.(frame, serialized); };
    }
    return undefined;
  }

  private deliverRun(topic: Topic, deliveries: Delivery[]): void {
    if (deliveries.length === 1 && !burst) {
      const deliver = deliveries[0];
      for (const listener of listenersOf(topic)) {
        try { deliver(listener); } catch (err) { this.listenerFailed(err); }
      }
      return;
    }
    for (const listener of listenersOf(topic)) {
      releases = [];
      try {
        for (const deliver of deliveries) {
          try { deliver(listener); } catch (err) { this.listenerFailed(err); }
        }
      } finally {
        const done = releases;
        releases = undefined;
        for (const release of done) {
          try { release(); } catch (err) { this.listenerFailed(err); }
        }
      }
    }
  }

  /** One listener's failure is logged; it never stops the others, nor the rest of a burst (nor escapes from the microtask). */
  private listenerFailed(err: unknown): void {
    this.ctx.logger.warn({ err }, 'a stream listener failed on a bus message; the others still get it');
  }

  /**
   * Compares every followed stream's head with Postgres and wakes listeners that are behind.
   * A head past what the bus delivered is usually an event committed a moment ago whose
   * publish is still on its way: reading it from Postgres for every listener then would cost a
   * query per connection for an event about to arrive anyway. So listeners are woken up to a
   * head the bus has delivered, or that the previous poll already saw (a publish that late is
   * lost) — or to any head when `now` (after a bus reconnect, which loses what was published
   * meanwhile). Postgres is asked only for the heads that moved since the previous poll
   * (`readMovedHeads`); a stream whose head did not move is woken up to the same head as if it
   * had been read again (one not in Postgres has head 0).
   */
  async pollHeads(now = false): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const streams = [...this.topics].filter(([, t]) => t.durable).map(([id, t]) => [id, t.polledHead] as const);
      for (let i = 0; i < streams.length; i += HEAD_QUERY_CHUNK) {
        const chunk = streams.slice(i, i + HEAD_QUERY_CHUNK);
        const moved = await readMovedHeads(this.ctx.db, Object.fromEntries(chunk));
        for (const [stream, polledHead] of chunk) {
          // Not moved: the head read last time (0 for a stream Postgres has no head for, as ever).
          const head = moved.get(stream) ?? Math.max(0, polledHead);
          const entry = this.topics.get(stream);
          if (!entry) continue;
          if (head > entry.head) entry.head = head;
          const due = now ? entry.head : Math.max(entry.liveHead, Math.min(head, entry.polledHead));
          entry.polledHead = head;
          for (const listener of listenersOf(entry)) listener.onHead?.(due);
        }
      }
    } catch (err) {
      this.ctx.logger.warn({ err }, 'head poll failed; retrying on the next tick');
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.pollTimer);
    this.unhookReconnect();
    for (const [, topic] of this.topics) topic.unsubscribe();
    this.topics.clear();
  }
}
