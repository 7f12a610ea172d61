import { toEventFrame, type Cursors, type EventFrame, type SesameEvent } from '../protocol/index.js';

/** One page of `GET /streams/:stream/events?after=`. */
export interface StreamEventsPage { events: SesameEvent[]; hasMore: boolean }

export interface SequencerHooks {
  /** Runs the handlers of one event; called exactly once per (stream, seq), in seq order. */
  deliver(event: EventFrame): void;
  /** Reads the durable events of `stream` after `after` from the REST API. */
  fetchAfter(stream: string, after: number): Promise<StreamEventsPage>;
  /** History of `stream` before `oldestSeq` no longer exists; the cursor skips to just before it. */
  historyPruned(info: { stream: string; fromSeq: number; oldestSeq: number; reason: string }): void;
  /** A cursor moved (persist it). */
  advanced(): void;
  error(err: unknown): void;
}

/**
 * Out-of-order frames (two api replicas publishing to one stream) usually resolve within
 * milliseconds; waiting this long before asking the API for a missing seq spares it a request
 * storm from every connected client.
 */
const GAP_FILL_GRACE_MS = 200;
/** Beyond this many waiting frames a stream stops buffering; the gap fill fetches the rest. */
const MAX_BUFFERED_PER_STREAM = 10_000;

/**
 * Turns frames that may arrive duplicated, reordered or with gaps (replay racing live fan-out, a
 * lost bus message, a reconnect) into exactly-once, per-stream ordered delivery.
 *
 * The cursor of a stream is the last seq delivered to handlers: a frame at or below it is a
 * duplicate; the next seq is delivered, then any buffered successors; a later seq waits in the
 * buffer while the gap is fetched over REST (one fill per stream at a time), and whatever the fill
 * returns goes through the same path, so a frame that arrives both ways is delivered once.
 */
export class EventSequencer {
  private readonly cursorOf = new Map<string, number>();
  private readonly buffered = new Map<string, Map<number, EventFrame>>();
  private readonly fills = new Map<string, Promise<void>>();
  private readonly graceTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Heads announced by the previous pong, for streams that were behind at that moment. */
  private behindAtLastHeads = new Map<string, number>();

  constructor(private readonly hooks: SequencerHooks, private readonly gapGraceMs = GAP_FILL_GRACE_MS) {}

  get cursors(): Cursors {
    return Object.fromEntries(this.cursorOf);
  }

  /** Adopts cursors loaded from a store; a cursor never moves backwards. */
  restore(cursors: Cursors): void {
    for (const [stream, seq] of Object.entries(cursors)) this.advanceTo(stream, seq);
  }

  /** Fresh start: events up to the current heads are history, not news. */
  startAtHeads(heads: Cursors): void {
    let changed = false;
    for (const [stream, head] of Object.entries(heads)) {
      if (!this.cursorOf.has(stream)) {
        this.cursorOf.set(stream, head);
        changed = true;
      }
    }
    if (changed) this.hooks.advanced();
  }

  push(frame: EventFrame): void {
    const { stream, seq } = frame;
    const cursor = this.cursorOf.get(stream);
    // No cursor: a stream this connection just started following (added to a channel live, or
    // replayed from the join point); its first event defines where it starts.
    if (cursor === undefined || seq === cursor + 1) {
      this.deliver(frame);
      this.drain(stream);
      return;
    }
    if (seq <= cursor) return;
    const waiting = this.buffered.get(stream) ?? new Map<number, EventFrame>();
    if (waiting.size < MAX_BUFFERED_PER_STREAM) waiting.set(seq, frame);
    this.buffered.set(stream, waiting);
    this.scheduleFill(stream);
  }

  /** The gateway finished replaying `stream` up to `seq`. */
  replayed(stream: string, seq: number): void {
    const cursor = this.cursorOf.get(stream);
    if (cursor === undefined) {
      // Nothing was replayed (no event since we joined): live events continue after `seq`.
      this.cursorOf.set(stream, seq);
      this.hooks.advanced();
    } else if (cursor < seq) {
      void this.fill(stream);
    }
  }

  /** History before `oldestSeq` was pruned: continue from there instead of waiting for it. */
  skipTo(stream: string, oldestSeq: number): void {
    this.advanceTo(stream, oldestSeq - 1);
    this.drain(stream);
  }

  /**
   * Compares announced heads (pong/heads frames) with the cursors. A stream still behind the
   * head announced by the previous announcement lost an event in fan-out: fetch it. Comparing
   * with the previous head, not the current one, ignores events merely in flight.
   */
  observeHeads(heads: Cursors): void {
    const behind = new Map<string, number>();
    for (const [stream, head] of Object.entries(heads)) {
      const cursor = this.cursorOf.get(stream);
      // Stryker disable next-line ConditionalExpression: without a cursor both comparisons below (`undefined < x`, `head > undefined`) are false anyway
      if (cursor === undefined) continue;
      if (cursor < (this.behindAtLastHeads.get(stream) ?? -Infinity)) void this.fill(stream);
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a head at or below the cursor never triggers a fill later (cursors never move back)
      if (head > cursor) behind.set(stream, head);
    }
    this.behindAtLastHeads = behind;
  }

  /**
   * A new connection: heads announced on the old one no longer apply. The `authenticated` heads
   * take their place, so a resume whose replay fell short is noticed at the first pong (which
   * the gateway sends after the replay).
   */
  resetHeads(heads: Cursors): void {
    this.behindAtLastHeads = new Map();
    for (const [stream, head] of Object.entries(heads)) {
      const cursor = this.cursorOf.get(stream);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator: a head at or below the cursor never triggers a fill later (cursors never move back)
      if (cursor !== undefined && head > cursor) this.behindAtLastHeads.set(stream, head);
    }
  }

  /** Fetches `stream` after its cursor over REST until caught up; concurrent calls share one run. */
  fill(stream: string): Promise<void> {
    const running = this.fills.get(stream);
    if (running) return running;
    const timer = this.graceTimers.get(stream);
    // Stryker disable next-line ConditionalExpression: clearTimeout(undefined) and deleting a missing key are no-ops
    if (timer) {
      clearTimeout(timer);
      this.graceTimers.delete(stream);
    }
    const run = this.fetchUntilCaughtUp(stream)
      .catch((err: unknown) => { this.hooks.error(err); })
      .finally(() => this.fills.delete(stream));
    this.fills.set(stream, run);
    return run;
  }

  /** Stops pending grace timers (the client is shutting down). */
  stop(): void {
    for (const timer of this.graceTimers.values()) clearTimeout(timer);
    this.graceTimers.clear();
  }

  /** Resolves once no gap fill is running. */
  async idle(): Promise<void> {
    while (this.fills.size) await Promise.all(this.fills.values());
  }

  private async fetchUntilCaughtUp(stream: string): Promise<void> {
    for (;;) {
      const after = this.cursorOf.get(stream);
      if (after === undefined) return;
      const page = await this.hooks.fetchAfter(stream, after);
      const first = page.events.at(0);
      // Live frames may have moved the cursor past `after` meanwhile; it never falls below `after`.
      const cursor = this.cursorOf.get(stream) ?? after;
      if (first && first.seq > cursor + 1) {
        // The API no longer has the seqs in between: say so rather than wait for them forever.
        this.hooks.historyPruned({ stream, fromSeq: cursor + 1, oldestSeq: first.seq, reason: 'history before oldestSeq is beyond retention' });
        this.skipTo(stream, first.seq);
      }
      for (const event of page.events) this.push(toEventFrame(event));
      if (!page.hasMore || page.events.length === 0) return;
    }
  }

  private scheduleFill(stream: string): void {
    if (this.fills.has(stream) || this.graceTimers.has(stream)) return;
    this.graceTimers.set(stream, setTimeout(() => {
      this.graceTimers.delete(stream);
      if (this.hasGap(stream)) void this.fill(stream);
    }, this.gapGraceMs));
  }

  private hasGap(stream: string): boolean {
    return (this.buffered.get(stream)?.size ?? 0) > 0;
  }

  private deliver(frame: EventFrame): void {
    this.cursorOf.set(frame.stream, frame.seq);
    this.hooks.deliver(frame);
    this.hooks.advanced();
  }

  private drain(stream: string): void {
    const waiting = this.buffered.get(stream);
    let cursor = this.cursorOf.get(stream);
    // Callers set the cursor first (deliver, advanceTo): a missing one means nothing to drain.
    if (!waiting) return;
    // Stryker disable next-line ConditionalExpression: unreachable for the reason above
    if (cursor === undefined) return;
    for (const seq of waiting.keys()) if (seq <= cursor) waiting.delete(seq);
    for (let next = waiting.get(cursor + 1); next; next = waiting.get(cursor + 1)) {
      waiting.delete(cursor + 1);
      this.deliver(next);
      cursor = next.seq;
    }
    // Stryker disable next-line ConditionalExpression: only frees memory; an empty buffer counts as no gap (hasGap) either way
    if (waiting.size === 0) this.buffered.delete(stream);
  }

  private advanceTo(stream: string, seq: number): void {
    const cursor = this.cursorOf.get(stream);
    if (cursor === undefined || seq > cursor) {
      this.cursorOf.set(stream, seq);
      this.hooks.advanced();
    }
  }
}
