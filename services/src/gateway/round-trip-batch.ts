// A run out longer than this stops holding the next items back (they go in a run of their own):
// one statement or script that never answers (a connection lost mid-request) must not stop every
// later handshake of the gateway. Its own items still wait for it.
const HOLD_NEXT_AT_MOST_MS = 2_000;

export interface RoundTripBatchOptions {
  /** At most this many items per run (a burst is split into several runs, none of them huge). */
  perRun: number;
  holdNextAtMostMs?: number;
}

/**
 * Gathers the items added while a run is under way, and during one turn of the event loop, and
 * hands them to `run` together: the first items of a quiet spell at the end of their turn
 * (`setImmediate`: after every socket read of the turn), later ones when the run in flight
 * returns. So a burst costs about one run (one statement, one script) per round trip to the
 * server, however busy the gateway's event loop is: the busier, the more items one run carries.
 * `run` settles its items itself (answers or fails their waiters); a rejection it lets through,
 * or a throw, fails nothing else.
 */
export class RoundTripBatch<T> {
  private pending: T[] = [];
  private scheduled = false;
  /** Runs under way: while there is one, new items wait for it to return. */
  private inFlight = 0;
  private readonly holdNextAtMostMs: number;

  constructor(private readonly run: (items: T[]) => Promise<void>, private readonly options: RoundTripBatchOptions) {
    this.holdNextAtMostMs = options.holdNextAtMostMs ?? HOLD_NEXT_AT_MOST_MS;
  }

  add(item: T): void {
    this.pending.push(item);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight > 0 || this.pending.length === 0) return;
    this.scheduled = true;
    setImmediate(() => { this.flush(); });
  }

  private flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i += this.options.perRun) {
      const items = pending.slice(i, i + this.options.perRun);
      this.inFlight++;
      let holding = true;
      const stopHolding = () => {
        if (!holding) return;
        holding = false;
        this.inFlight--;
        this.schedule();
      };
      const timer = setTimeout(stopHolding, this.holdNextAtMostMs);
      timer.unref();
      const settled = () => {
        clearTimeout(timer);
        stopHolding();
      };
      // A run that throws at once is contained like one that fails later (it settles its own items).
      let running: Promise<void>;
      try {
        running = this.run(items);
      } catch {
        running = Promise.resolve();
      }
      running.then(settled, settled);
    }
  }
}
