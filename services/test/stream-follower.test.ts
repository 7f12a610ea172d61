import type { SesameEvent } from '@sesamespace/sdk/protocol';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StreamFollower, type FollowerOwner } from '../src/gateway/stream-follower.js';
import type { EphemeralFrame, HubEvent, WireFrame } from '../src/gateway/stream-hub.js';

/**
 * StreamFollower on fakes: an in-memory event log standing in for Postgres and an owner that
 * records what the connection would have sent. No network, no database.
 */
const STREAM = 'ch_1';

const event = (seq: number): SesameEvent => ({ type: 'message.created', stream: STREAM, seq, data: { n: seq }, at: '2025-01-01T00:00:00.000Z' });
/** A live event as the hub hands it over: its frame is a distinct buffer we can recognise. */
const live = (seq: number): HubEvent => ({ event: event(seq), frame: Buffer.from(`live-${seq}`) });

class FakeEventLog {
  readonly events: SesameEvent[] = [];
  readonly reads: Array<{ afterSeq: number; limit: number }> = [];
  private gates: Array<() => void> = [];
  held = false;
  /** Reads see the log as it was when they were issued (a query's snapshot), not when released. */
  snapshotReads = false;
  failWith: Error | undefined;

  commit(...seqs: number[]) { for (const seq of seqs) this.events.push(event(seq)); }

  /** While held, reads wait until `release()` (a slow query racing live events). */
  hold() { this.held = true; }
  release() { this.held = false; for (const open of this.gates.splice(0)) open(); }

  read = async (stream: string, afterSeq: number, limit: number): Promise<SesameEvent[]> => {
    this.reads.push({ afterSeq, limit });
    const snapshot = this.select(stream, afterSeq, limit);
    if (this.held) await new Promise<void>((resolve) => this.gates.push(resolve));
    if (this.failWith) throw this.failWith;
    return this.snapshotReads ? snapshot : this.select(stream, afterSeq, limit);
  };

  private select(stream: string, afterSeq: number, limit: number) {
    return this.events.filter((e) => e.stream === stream && e.seq > afterSeq).sort((a, b) => a.seq - b.seq).slice(0, limit);
  }
}

class FakeOwner implements FollowerOwner {
  readonly delivered: Array<{ seq: number; frame: WireFrame }> = [];
  readonly ephemeral: EphemeralFrame[] = [];
  readonly resyncs: Array<{ fromSeq: number; oldestSeq: number }> = [];
  readonly replays: number[] = [];
  readonly failures: unknown[] = [];
  /** The send buffer is full once this many events were delivered (until `drain()`). */
  fullAfter = Infinity;
  private waiting: Array<() => void> = [];

  get seqs() { return this.delivered.map((d) => d.seq); }
  deliverEvent(_stream: string, e: SesameEvent, frame: WireFrame) { this.delivered.push({ seq: e.seq, frame }); }
  deliverEphemeral(_stream: string, frame: EphemeralFrame) { this.ephemeral.push(frame); }
  resync(_stream: string, fromSeq: number, oldestSeq: number) { this.resyncs.push({ fromSeq, oldestSeq }); }
  replayed(_stream: string, seq: number) { this.replays.push(seq); }
  failed(_stream: string, err: unknown) { this.failures.push(err); }
  roomFor(frames: readonly WireFrame[]) { return this.delivered.length + frames.length <= this.fullAfter; }
  waitForCapacity(): Promise<void> {
    if (this.delivered.length < this.fullAfter) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  get blocked() { return this.waiting.length > 0; }
  drain() { this.fullAfter = Infinity; for (const resume of this.waiting.splice(0)) resume(); }
}

/** Lets every pending promise chain run (the fakes never touch timers). */
async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function setup(options: { batchSize?: number; head?: () => number } = {}) {
  const log = new FakeEventLog();
  const owner = new FakeOwner();
  let head = 0;
  const follower = new StreamFollower(STREAM, owner, log.read, options.batchSize ?? 100, options.head ?? (() => head));
  return { log, owner, follower, setHead: (h: number) => { head = h; } };
}

afterEach(() => { vi.useRealTimers(); });

describe('StreamFollower', () => {
  it('delivers live events in order as they arrive, without reading the store', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    for (const seq of [1, 2, 3]) follower.onEvent(live(seq));
    expect(owner.seqs).toEqual([1, 2, 3]);
    expect(owner.delivered[1].frame.toString()).toBe('live-2'); // the hub's frame, not re-serialised
    expect(follower.position).toBe(3);
    await settle();
    expect(log.reads).toEqual([]);
  });

  it('drops duplicates (and events at or before the cursor) without a store read', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(2, 2);
    follower.onEvent(live(2)); // already had it: the cursor says so
    follower.onEvent(live(3));
    follower.onEvent(live(3));
    follower.onEvent(live(1));
    follower.onEvent(live(4));
    await settle();
    expect(owner.seqs).toEqual([3, 4]);
    expect(log.reads).toEqual([]);
  });

  it('holds out-of-order live events and sends them in seq order once the gap closes', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    log.hold(); // the gap read is slow; the missing events arrive live meanwhile
    follower.onEvent(live(3));
    follower.onEvent(live(2));
    expect(owner.seqs).toEqual([]);
    follower.onEvent(live(1));
    log.release();
    await settle();
    expect(owner.seqs).toEqual([1, 2, 3]);
    expect(owner.delivered.map((d) => d.frame.toString())).toEqual(['live-1', 'live-2', 'live-3']);
  });

  it('reads a gap from the store (a lost publish), reusing the live frames it already holds', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    log.commit(1, 2, 3); // 1 was committed but its publish was lost
    follower.onEvent(live(2));
    follower.onEvent(live(3));
    await settle();
    expect(owner.seqs).toEqual([1, 2, 3]);
    expect(log.reads[0]).toEqual({ afterSeq: 0, limit: 100 });
    expect(JSON.parse(owner.delivered[0].frame.toString())).toMatchObject({ seq: 1 }); // serialised from the store
    expect(owner.delivered[1].frame.toString()).toBe('live-2');
    follower.onEvent(live(4));
    expect(owner.seqs).toEqual([1, 2, 3, 4]);
  });

  it('fills a gap when a heartbeat reveals a head past what was sent', async () => {
    const { log, owner, follower, setHead } = setup();
    await follower.begin(0, 0);
    log.commit(1, 2); // both publishes lost; only the head tells
    setHead(2);
    follower.onHead(2);
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    follower.onHead(2);
    await settle();
    expect(log.reads).toHaveLength(1);
  });

  it('replays from a cursor in batches, then switches to live with no gap and no duplicate', async () => {
    const { log, owner, follower } = setup({ batchSize: 2 });
    log.commit(1, 2, 3, 4, 5);
    // Subscribed first: live events that arrive before begin() are held, not sent.
    follower.onEvent(live(5));
    expect(owner.seqs).toEqual([]);
    log.hold();
    const replay = follower.begin(2, 5);
    // Live events race the replay: 5 again and a new 6 (committed before it was published).
    follower.onEvent(live(5));
    log.commit(6);
    follower.onEvent(live(6));
    log.release();
    await replay;
    expect(owner.seqs).toEqual([3, 4, 5, 6]);
    expect(log.reads.slice(0, 3)).toEqual([{ afterSeq: 2, limit: 2 }, { afterSeq: 4, limit: 2 }, { afterSeq: 6, limit: 2 }]);
    expect(owner.replays).toEqual([6]);
    follower.onEvent(live(6));
    follower.onEvent(live(7));
    expect(owner.seqs).toEqual([3, 4, 5, 6, 7]);
  });

  it('delivers events held before begin() once it starts at the head', async () => {
    const { log, owner, follower } = setup();
    follower.onEvent(live(4));
    await follower.begin(3, 3);
    expect(owner.seqs).toEqual([4]);
    expect(log.reads).toEqual([]);
  });

  it('paces replay on a full send buffer: nothing more is read or sent until there is room', async () => {
    const { log, owner, follower } = setup({ batchSize: 3 });
    log.commit(1, 2, 3, 4, 5, 6);
    owner.fullAfter = 2;
    const replay = follower.begin(0, 6);
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    expect(owner.blocked).toBe(true);
    expect(log.reads).toHaveLength(1); // no read-ahead while the client is slow
    log.commit(7);
    follower.onEvent(live(7)); // live traffic waits too: order is kept
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    owner.drain();
    await replay;
    await settle();
    expect(owner.seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('reads the next batch while it sends the current one when the client has room, never when it is slow', async () => {
    const run = async (fullAfter: number) => {
      const { log, owner, follower } = setup({ batchSize: 3 });
      log.commit(1, 2, 3, 4, 5, 6, 7);
      owner.fullAfter = fullAfter;
      // How many reads were issued when each event was handed to the connection.
      const readsAtSend: number[] = [];
      const deliver = owner.deliverEvent.bind(owner);
      owner.deliverEvent = (stream, e, frame) => { readsAtSend.push(log.reads.length); deliver(stream, e, frame); };
      const replay = follower.begin(0, 7);
      await settle();
      const before = { readsAtSend: [...readsAtSend], reads: log.reads.length };
      owner.drain();
      await replay;
      expect(owner.seqs).toEqual([1, 2, 3, 4, 5, 6, 7]); // exactly once, in order, either way
      expect(owner.replays).toEqual([7]);
      return { before, readsAtSend, reads: log.reads };
    };

    const fast = await run(Infinity);
    // The read after 3 was issued before 1 was sent, the one after 6 before 4 was.
    expect(fast.readsAtSend).toEqual([2, 2, 2, 3, 3, 3, 3]);
    expect(fast.reads).toEqual([{ afterSeq: 0, limit: 3 }, { afterSeq: 3, limit: 3 }, { afterSeq: 6, limit: 3 }]);

    // Room for two events only: the batch of three does not fit, so nothing is read ahead.
    const slow = await run(2);
    expect(slow.before).toEqual({ readsAtSend: [1, 1], reads: 1 });
    expect(slow.reads).toEqual([{ afterSeq: 0, limit: 3 }, { afterSeq: 3, limit: 3 }, { afterSeq: 6, limit: 3 }]);
  });

  it('drops a batch read ahead when a rewind moved the position while the current one was sent', async () => {
    const { log, owner, follower } = setup({ batchSize: 2 });
    log.commit(1, 2, 3, 4, 5);
    await follower.begin(0, 0);
    // The client asks for everything again once 1 was sent, while the first batch is being sent:
    // the read made ahead (after 2) no longer starts where sending ends, so it is dropped and
    // the follower reads again from the new position.
    let waits = 0;
    const wait = owner.waitForCapacity.bind(owner);
    owner.waitForCapacity = () => {
      if (++waits === 2) void follower.rewind(0);
      return wait();
    };
    await follower.rewind(0);
    await settle();
    expect(owner.seqs).toEqual([1, 1, 2, 3, 4, 5]);
    expect(owner.resyncs).toEqual([]);
    expect(log.reads.map((r) => r.afterSeq)).toEqual([0, 2, 0, 2, 4, 5]);
  });

  it('tells the owner to resync when the history after the cursor was pruned', async () => {
    const { log, owner, follower } = setup();
    log.commit(5, 6); // 1..4 beyond retention
    await follower.begin(0, 6);
    expect(owner.resyncs).toEqual([{ fromSeq: 1, oldestSeq: 5 }]);
    expect(owner.seqs).toEqual([5, 6]);
  });

  it('skips to the head with a resync when every event up to it was pruned', async () => {
    const { owner, follower, setHead } = setup();
    setHead(4);
    await follower.begin(1, 4);
    expect(owner.resyncs).toEqual([{ fromSeq: 2, oldestSeq: 5 }]);
    expect(follower.position).toBe(4);
    follower.onEvent(live(5));
    expect(owner.seqs).toEqual([5]);
  });

  it('rewinds: sends again what followed the given seq', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    log.commit(1, 2, 3);
    for (const seq of [1, 2, 3]) follower.onEvent(live(seq));
    await follower.rewind(1);
    expect(owner.seqs).toEqual([1, 2, 3, 2, 3]);
    await follower.rewind(5); // ahead of what we sent: nothing to resend
    expect(owner.seqs).toEqual([1, 2, 3, 2, 3]);
  });

  it('retries a hole the store cannot fill yet, and fills it once the events are readable', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    follower.onEvent(live(2)); // seq 1 is not readable yet
    await settle();
    expect(owner.seqs).toEqual([]);
    const readsBefore = log.reads.length;
    log.commit(1, 2);
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(log.reads.length).toBeGreaterThan(readsBefore);
    expect(owner.seqs).toEqual([1, 2]);
  });

  it('passes ephemeral frames straight through, and sends nothing once stopped', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    follower.onEphemeral({ type: 'typing', channelId: STREAM }, Buffer.from('t'));
    expect(owner.ephemeral).toEqual([{ type: 'typing', channelId: STREAM }]);
    follower.onEvent(live(2)); // waits for 1
    follower.stop();
    log.commit(1, 2);
    follower.onEvent(live(1));
    follower.onEphemeral({ type: 'typing', channelId: STREAM }, Buffer.from('t'));
    await settle();
    expect(owner.seqs).toEqual([]);
    expect(owner.ephemeral).toHaveLength(1);
  });

  it('reports a failing store read to the owner', async () => {
    const { log, owner, follower } = setup();
    log.commit(1);
    log.failWith = new Error('database down');
    await follower.begin(0, 1);
    expect(owner.failures).toEqual([log.failWith]);
    expect(owner.seqs).toEqual([]);
  });

  it('holds live events that arrive before begin(), even the next one, and sends nothing on a head before then', async () => {
    const { log, owner, follower } = setup();
    follower.onEvent(live(1));
    follower.onHead(3);
    await follower.rewind(0);
    await settle();
    expect(owner.seqs).toEqual([]);
    expect(log.reads).toEqual([]);
    log.commit(1, 2);
    await follower.begin(0, 2);
    expect(owner.seqs).toEqual([1, 2]);
    expect(owner.delivered[0].frame.toString()).toBe('live-1');
    expect(owner.resyncs).toEqual([]);
  });

  it('starting at the head with held events past a gap, reads the gap', async () => {
    const { log, owner, follower } = setup();
    log.commit(4, 5);
    follower.onEvent(live(5));
    await follower.begin(3, 3);
    expect(owner.seqs).toEqual([4, 5]);
    expect(owner.replays).toEqual([]); // nothing to replay at the head
  });

  it('replays with no resync when nothing was pruned, and reads nothing more once done', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, owner, follower, setHead } = setup({ batchSize: 2 });
    log.commit(1, 2, 3, 4, 5);
    setHead(5);
    follower.onEvent(live(4));
    follower.onEvent(live(5));
    await follower.begin(0, 5);
    expect(owner.seqs).toEqual([1, 2, 3, 4, 5]);
    expect(owner.resyncs).toEqual([]);
    const reads = log.reads.length;
    await vi.advanceTimersByTimeAsync(1_000);
    await follower.rewind(5); // at the head: nothing to resend, nothing pruned
    expect(owner.resyncs).toEqual([]);
    expect(log.reads.length).toBe(reads + 1);
    expect(owner.seqs).toEqual([1, 2, 3, 4, 5]);
  });

  it('never sends a live event past a full send buffer during replay', async () => {
    const { log, owner, follower } = setup({ batchSize: 3 });
    log.commit(1, 2, 3, 4, 5, 6);
    owner.fullAfter = 2;
    const replay = follower.begin(0, 6);
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    follower.onEvent(live(3)); // the next seq, but the client has no room
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    owner.drain();
    await replay;
    expect(owner.seqs).toEqual([1, 2, 3, 4, 5, 6]);
    expect(owner.delivered[2].frame.toString()).toBe('live-3');
  });

  it('stopped during a replay: no more events, no resync and no replayed frame', async () => {
    const { log, owner, follower } = setup();
    log.commit(3, 4); // 1 and 2 pruned
    log.hold();
    const replay = follower.begin(0, 4);
    follower.stop();
    log.release();
    await replay;
    expect(owner.seqs).toEqual([]);
    expect(owner.resyncs).toEqual([]);
    expect(owner.replays).toEqual([]);
  });

  it('stopped while the send buffer is full: sends nothing once room comes back', async () => {
    const { log, owner, follower } = setup();
    log.commit(1, 2, 3);
    owner.fullAfter = 1;
    const replay = follower.begin(0, 3);
    await settle();
    expect(owner.seqs).toEqual([1]);
    follower.stop();
    owner.drain();
    await replay;
    expect(owner.seqs).toEqual([1]);
    expect(owner.replays).toEqual([]);
  });

  it('a rewind while the send buffer is full resends from the rewound seq, in order', async () => {
    const { log, owner, follower } = setup();
    log.commit(1, 2, 3, 4);
    owner.fullAfter = 2;
    const replay = follower.begin(0, 4);
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    const rewound = follower.rewind(0);
    owner.drain();
    await Promise.all([replay, rewound]);
    expect(owner.seqs).toEqual([1, 2, 1, 2, 3, 4]);
  });

  it('a rewind before the first seq resends everything, without a resync', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    log.commit(1, 2);
    for (const seq of [1, 2]) follower.onEvent(live(seq));
    await follower.rewind(-5);
    expect(owner.seqs).toEqual([1, 2, 1, 2]);
    expect(owner.resyncs).toEqual([]);
  });

  it('a rewind ahead of what was sent changes nothing: later events still arrive', async () => {
    const { log, owner, follower } = setup();
    await follower.begin(0, 0);
    for (const seq of [1, 2]) follower.onEvent(live(seq));
    await follower.rewind(4);
    log.commit(1, 2, 3, 4);
    follower.onEvent(live(3));
    follower.onEvent(live(4));
    await settle();
    expect(owner.seqs).toEqual([1, 2, 3, 4]);
  });

  it('reads again at once when more became known during a read, without waiting for the retry timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, owner, follower, setHead } = setup();
    await follower.begin(0, 0);
    log.snapshotReads = true;
    log.hold();
    follower.onEvent(live(3)); // starts a read that sees an empty log
    log.commit(1, 2, 3);
    setHead(3);
    follower.onHead(3); // arrives while that read is in flight
    log.release();
    await settle();
    expect(owner.seqs).toEqual([1, 2, 3]);
    expect(log.reads.map((r) => r.afterSeq)).toEqual([0, 0]);
  });

  it('waits for a hole below the head to become readable instead of skipping it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, owner, follower, setHead } = setup();
    await follower.begin(0, 0);
    setHead(2);
    follower.onEvent(live(2)); // 1 committed but not yet visible to our reads
    await settle();
    expect(owner.resyncs).toEqual([]);
    expect(owner.seqs).toEqual([]);
    log.commit(1, 2);
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(owner.seqs).toEqual([1, 2]);
    expect(owner.resyncs).toEqual([]);
  });

  it('keeps no retry going once the events it held were delivered', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { log, owner, follower } = setup({ batchSize: 2 });
    log.commit(1, 2, 3, 4, 5, 6);
    follower.onEvent(live(5)); // held before begin; the replay delivers it from the store
    log.hold();
    const replay = follower.begin(2, 5);
    follower.onEvent(live(6));
    log.release();
    await replay;
    expect(owner.seqs).toEqual([3, 4, 5, 6]);
    const reads = log.reads.length;
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(log.reads.length).toBe(reads);
  });
});

describe('StreamFollower, for any interleaving', () => {
  type Step =
    | { kind: 'commit' } // the api commits the next seq; its publish is now in flight
    | { kind: 'publish'; pick: number } // one in-flight publish reaches the node (any order)
    | { kind: 'lose'; pick: number } // one in-flight publish is lost
    | { kind: 'duplicate'; pick: number } // a publish already seen arrives again
    | { kind: 'head' } // the head poll reports the committed head
    | { kind: 'begin'; cursor: number } // the client connects from a cursor (a fraction of the head)
    | { kind: 'settle' };
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'commit' as const }) },
    { weight: 4, arbitrary: fc.nat().map((pick) => ({ kind: 'publish' as const, pick })) },
    { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: 'lose' as const, pick })) },
    { weight: 1, arbitrary: fc.nat().map((pick) => ({ kind: 'duplicate' as const, pick })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'head' as const }) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((cursor) => ({ kind: 'begin' as const, cursor })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
  );

  it('delivers every seq after the cursor exactly once, in order, despite reordered, lost and duplicated publishes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), async (steps, batchSize) => {
      const { log, owner, follower, setHead } = setup({ batchSize });
      let committed = 0;
      let cursor: number | undefined;
      const inFlight: number[] = [];
      const published: number[] = [];
      const publish = (seq: number) => { published.push(seq); follower.onEvent(live(seq)); };
      const begin = async (fraction: number) => {
        cursor = Math.floor(fraction * committed);
        setHead(committed);
        void follower.begin(cursor, committed);
        await settle();
      };
      for (const s of steps) {
        if (s.kind === 'commit') { committed += 1; log.commit(committed); inFlight.push(committed); }
        else if (s.kind === 'publish' && inFlight.length) publish(inFlight.splice(s.pick % inFlight.length, 1)[0]);
        else if (s.kind === 'lose' && inFlight.length) inFlight.splice(s.pick % inFlight.length, 1);
        else if (s.kind === 'duplicate' && published.length) publish(published[s.pick % published.length]);
        else if (s.kind === 'head') { setHead(committed); follower.onHead(committed); }
        else if (s.kind === 'begin' && cursor === undefined) await begin(s.cursor);
        else if (s.kind === 'settle') await settle();
      }
      if (cursor === undefined) await begin(0);
      for (const seq of inFlight.splice(0)) publish(seq);
      setHead(committed);
      follower.onHead(committed); // the poll that finds what lost publishes hid
      await settle();
      await vi.advanceTimersByTimeAsync(1_000);
      await settle();
      const expected = Array.from({ length: committed - cursor! }, (_, i) => cursor! + 1 + i);
      expect(owner.seqs).toEqual(expected);
      expect(owner.resyncs).toEqual([]);
      expect(owner.failures).toEqual([]);
      follower.stop();
    }), { numRuns: 200 });
  });
});
