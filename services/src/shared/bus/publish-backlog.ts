import type { Logger } from '../logger.js';
import { metrics } from '../metrics.js';

/** A publish waiting for Redis: the topic as sent upstream and the serialised message. */
export interface HeldPublish { channel: string; body: string }

export interface PublishBacklogOptions {
  /** Most publishes held while Redis is unreachable; past it the oldest are dropped. */
  limit: number;
  /** Most bytes (of serialised messages) held; past it the oldest are dropped. */
  maxBytes?: number;
}

const DEFAULT_BACKLOG_MAX_BYTES = 16 * 1024 * 1024;
/** Publishes held while Redis is unreachable, by default (`SESAME_BUS_BACKLOG_LIMIT`). */
export const DEFAULT_BACKLOG_LIMIT = 10_000;

/**
 * What a bus publishes while its Redis is unreachable, bounded: at most `limit` publishes and
 * `maxBytes` bytes; past that the oldest are dropped and counted
 * (`sesame_bus_publishes_dropped_total`). Nothing is lost for clients: every durable event is
 * in Postgres, and a client whose stream jumps, or that hears a newer head, fetches the gap from
 * there through its cursor. The held publishes go out in order once Redis is back. One warning
 * per outage, one line when it ends — not one per publish.
 */
export class PublishBacklog {
  // A ring buffer: dropping the oldest is O(1), however many publishes an outage sees.
  private readonly ring: Array<HeldPublish | undefined>;
  private head = 0;
  private count = 0;
  private bytes = 0;
  private dropped = 0;
  private readonly maxBytes: number;

  constructor(options: PublishBacklogOptions, private readonly logger: Logger, private readonly role: string) {
    this.ring = new Array<HeldPublish | undefined>(Math.max(1, options.limit));
    this.maxBytes = options.maxBytes ?? DEFAULT_BACKLOG_MAX_BYTES;
  }

  /** Publishes held now. */
  get size(): number {
    return this.count;
  }

  hold(publish: HeldPublish): void {
    if (this.count === 0 && this.dropped === 0) {
      this.logger.warn({ role: this.role, limit: this.ring.length }, 'redis unreachable: holding bus publishes (the oldest are dropped past the limit; clients fetch the gap from the database)');
    }
    while (this.count > 0 && (this.count === this.ring.length || this.bytes + publish.body.length > this.maxBytes)) this.dropOldest();
    this.ring[(this.head + this.count) % this.ring.length] = publish;
    this.count++;
    this.bytes += publish.body.length;
    metrics.busBacklog.inc();
  }

  /** Takes every held publish, oldest first, and ends the outage's bookkeeping. */
  drain(): HeldPublish[] {
    const out: HeldPublish[] = [];
    while (this.count > 0) {
      const held = this.ring[this.head];
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.ring.length;
      this.count--;
      if (held) out.push(held);
    }
    this.bytes = 0;
    if (out.length > 0 || this.dropped > 0) {
      this.logger.info({ role: this.role, sent: out.length, dropped: this.dropped }, 'redis reachable again: sending held bus publishes');
    }
    this.dropped = 0;
    metrics.busBacklog.dec(out.length);
    return out;
  }

  private dropOldest(): void {
    const oldest = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.bytes -= oldest?.body.length ?? 0;
    this.dropped++;
    metrics.busBacklog.dec();
    metrics.busPublishesDropped.inc();
  }
}
