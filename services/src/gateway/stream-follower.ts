import { toWireEventFrame, type SesameEvent } from '@sesamespace/sdk/protocol';
import { toWireFrame, type EphemeralFrame, type HubEvent, type TopicListener, type WireFrame } from './stream-hub.js';

/** What a follower needs from the connection it belongs to. */
export interface FollowerOwner {
  /** Sends one durable event (already serialised). */
  deliverEvent(stream: string, event: SesameEvent, frame: WireFrame): void;
  deliverEphemeral(stream: string, frame: EphemeralFrame, serialized: WireFrame): void;
  /** History between `fromSeq` and `oldestSeq` was pruned: tell the client to resync. */
  resync(stream: string, fromSeq: number, oldestSeq: number): void;
  /**
   * Resolves when the connection's send buffer has room (replay is paced, never dropped);
   * `undefined` when it has room now, so a replay costs no promise hop per event.
   */
  waitForCapacity(): Promise<void> | undefined;
  /**
   * Whether the send buffer can take all of `frames` now and stay below its high-water mark:
   * replay then reads the next batch while it sends these (never for a slow client).
   */
  roomFor(frames: readonly WireFrame[]): boolean;
  /** Called after an initial replay completed (for the `replayed` frame). */
  replayed(stream: string, seq: number): void;
  failed(stream: string, err: unknown): void;
}

/**
 * Reads a stream's committed events after `afterSeq`, in seq order (Postgres through the hub,
 * or a fake in tests); an event may come with its frame already built.
 */
export type ReadEvents = (stream: string, afterSeq: number, limit: number) => Promise<ReadonlyArray<SesameEvent | HubEvent>>;

const eventOf = (item: SesameEvent | HubEvent): SesameEvent => ('frame' in item ? item.event : item);
const frameOf = (item: SesameEvent | HubEvent): WireFrame => ('frame' in item ? item.frame : toWireFrame(toWireEventFrame(item)));

/** A batch being read, with where it starts and the head known when it was requested (see `fill`). */
interface BatchRead {
  afterSeq: number;
  headBefore: number;
  batch: Promise<ReadonlyArray<SesameEvent | HubEvent>>;
}

// A hole that Postgres cannot fill yet (it never should: events are published after commit)
// is retried after this long rather than in a tight loop.
const HOLE_RETRY_MS = 50;

/**
 * One connection's view of one stream: replay from a cursor, then live, with no gap and no
 * duplicate. `sent` is the last seq handed to the connection; a live event is sent only when it
 * is exactly `sent + 1`. Anything else (events racing a replay, an event overtaking one whose
 * publish was lost or is still in flight) waits in `pending` while the gap is read from Postgres,
 * which holds every committed event in seq order.
 */
export class StreamFollower implements TopicListener {
  private sent = 0;
  private started = false;
  private stopped = false;
  private readonly pending = new Map<number, HubEvent>();
  private filling: Promise<void> | null = null;
  // Stryker disable next-line BooleanLiteral: equivalent, fill() sets it to false before it is first read
  private refill = false;
  private holeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly stream: string,
    private readonly owner: FollowerOwner,
    private readonly readEvents: ReadEvents,
    private readonly batchSize: number,
    private readonly knownHead: () => number,
  ) {}

  /** The last seq sent to the connection. */
  get position(): number {
    return this.sent;
  }

  /**
   * Starts delivery after `afterSeq`. Until then live events are held, which is what lets the
   * caller subscribe first and read the head second without a gap between the two.
   */
  begin(afterSeq: number, head: number): Promise<void> {
    this.sent = afterSeq;
    this.started = true;
    if (head > afterSeq) {
      return this.requestFill().then(() => {
        if (!this.stopped) this.owner.replayed(this.stream, this.sent);
      });
    }
    this.drainPending();
    if (this.pending.size) return this.requestFill();
    return Promise.resolve();
  }

  onEvent(hubEvent: HubEvent): void {
    const { seq } = hubEvent.event;
    if (this.stopped || (this.started && seq <= this.sent)) return;
    if (this.started && !this.filling && seq === this.sent + 1) {
      this.send(hubEvent.event, hubEvent.frame);
      this.drainPending();
      return;
    }
    this.pending.set(seq, hubEvent);
    if (this.started) void this.requestFill();
  }

  onEphemeral(frame: EphemeralFrame, serialized: WireFrame): void {
    if (!this.stopped) this.owner.deliverEphemeral(this.stream, frame, serialized);
  }

  onHead(head: number): void {
    if (this.started && !this.stopped && head > this.sent) void this.requestFill();
  }

  /** The client asks to have everything after `afterSeq` again (it lost what we sent). */
  rewind(afterSeq: number): Promise<void> {
    if (!this.started) return Promise.resolve();
    // Back, never forward (what was sent stays sent), and never below 0.
    this.sent = Math.min(this.sent, Math.max(0, afterSeq));
    return this.requestFill();
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
    clearTimeout(this.holeTimer);
  }

  private requestFill(): Promise<void> {
    if (this.filling) {
      this.refill = true;
      return this.filling;
    }
    this.filling = this.fill()
      .catch((err: unknown) => { this.owner.failed(this.stream, err); })
      .finally(() => { this.filling = null; });
    return this.filling;
  }

  private async fill(): Promise<void> {
    do {
      this.refill = false;
      let ahead: BatchRead | undefined;
      for (;;) {
        // The head as known before the read: the read sees at least that far, so finding nothing
        // below it means pruned (a head learnt while the read ran may be past its snapshot).
        // A read made ahead is used only if it starts where sending the previous batch ended.
        const read = ahead?.afterSeq === this.sent ? ahead : this.readAfter(this.sent);
        ahead = undefined;
        const { headBefore } = read;
        const batch = await read.batch;
        if (this.stopped) return;
        const first = batch.length ? eventOf(batch[0]) : undefined;
        if (first && first.seq > this.sent + 1) {
          // Seq is gapless, so a first event past sent+1 means the ones between were pruned.
          this.owner.resync(this.stream, this.sent + 1, first.seq);
          this.sent = first.seq - 1;
        } else if (!first && headBefore > this.sent && this.pending.size === 0) {
          // Every event up to the head is gone (pruned): skip to the head.
          this.owner.resync(this.stream, this.sent + 1, headBefore + 1);
          this.sent = headBefore;
        }
        // A full batch is likely followed by another: when the client can take this whole batch
        // without reaching its high-water mark (so it will not wait), read the next one now and
        // let Postgres work while this one is framed and sent. One batch ahead at most, and never
        // for a slow client, whose replay reads nothing more until it has room.
        if (batch.length === this.batchSize && this.owner.roomFor(batch.map(frameOf))) {
          ahead = this.readAfter(eventOf(batch[batch.length - 1]).seq);
        }
        for (const item of batch) {
          const event = eventOf(item);
          // Only spares a wait for capacity: the same check after the wait skips the event anyway.
          // Stryker disable next-line ConditionalExpression: equivalent (see above)
          if (event.seq !== this.sent + 1) continue;
          const room = this.owner.waitForCapacity();
          if (room) await room;
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by another method while we awaited (TypeScript keeps the narrowing, TS#9998)
          if (this.stopped) return;
          if (event.seq !== this.sent + 1) continue; // a rewind or a live delivery moved us meanwhile
          const frame = this.pending.get(event.seq)?.frame ?? frameOf(item);
          this.send(event, frame);
        }
        if (batch.length < this.batchSize) break;
      }
      this.drainPending();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by another method while we awaited (TypeScript keeps the narrowing, TS#9998)
    } while (this.refill && !this.stopped);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by another method while we awaited (TypeScript keeps the narrowing, TS#9998)
    if (this.pending.size && !this.stopped) {
      clearTimeout(this.holeTimer);
      this.holeTimer = setTimeout(() => void this.requestFill(), HOLE_RETRY_MS);
    }
  }

  private readAfter(afterSeq: number): BatchRead {
    const headBefore = this.knownHead();
    const batch = this.readEvents(this.stream, afterSeq, this.batchSize);
    // A read made ahead may be dropped unawaited (stopped, rewound): its failure is not unhandled;
    // awaited, it still throws.
    batch.catch(() => {});
    return { afterSeq, headBefore, batch };
  }

  private drainPending(): void {
    // Nearly always empty on a live delivery: no iterator over an empty map per event and connection.
    if (this.pending.size === 0) return;
    for (const seq of this.pending.keys()) if (seq <= this.sent) this.pending.delete(seq);
    let next = this.pending.get(this.sent + 1);
    while (next && !this.stopped) {
      this.pending.delete(next.event.seq);
      this.send(next.event, next.frame);
      next = this.pending.get(this.sent + 1);
    }
  }

  private send(event: SesameEvent, frame: WireFrame): void {
    this.sent = event.seq;
    this.owner.deliverEvent(this.stream, event, frame);
  }
}
