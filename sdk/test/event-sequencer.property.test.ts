import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { toEventFrame, type Cursors, type EventFrame, type SesameEvent } from '../src/protocol/index.js';
import { EventSequencer, type StreamEventsPage } from '../src/realtime/event-sequencer.js';
import { event } from './realtime-harness.js';

const STREAMS = ['ch_1', 'inbox:pr_1'] as const;
const HISTORY = 12;

type Stream = (typeof STREAMS)[number];
type Action =
  | { kind: 'push'; stream: Stream; seq: number; wire: boolean }
  | { kind: 'replayed'; stream: Stream; seq: number }
  | { kind: 'heads'; stream: Stream; seq: number }
  | { kind: 'fill'; stream: Stream }
  | { kind: 'tick'; ms: number };

const stream = fc.constantFrom(...STREAMS);
const seq = fc.integer({ min: 1, max: HISTORY });
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('push' as const), stream, seq, wire: fc.boolean() }), weight: 8 },
  { arbitrary: fc.record({ kind: fc.constant('replayed' as const), stream, seq }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('heads' as const), stream, seq }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('fill' as const), stream }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 400 }) }), weight: 2 },
);

/** A sequencer whose `fetchAfter` serves pages of the full event list; records what it sees. */
function harness(pageSize: number, history: (s: string) => SesameEvent[] = (s) => Array.from({ length: HISTORY }, (_, i) => event(s, i + 1))) {
  const delivered: Record<string, number[]> = {};
  const cursorsAtAdvance: Cursors[] = [];
  const fetches: Array<{ stream: string; after: number }> = [];
  const pruned: unknown[] = [];
  const errors: unknown[] = [];
  const sequencer: EventSequencer = new EventSequencer({
    deliver: (e: EventFrame) => {
      (delivered[e.stream] ??= []).push(e.seq);
      expect(e.data).toEqual(event(e.stream, e.seq).data);
      expect(sequencer.cursors[e.stream]).toBe(e.seq);
    },
    fetchAfter: async (s, after): Promise<StreamEventsPage> => {
      fetches.push({ stream: s, after });
      await Promise.resolve();
      const rest = history(s).filter((e) => e.seq > after);
      return { events: rest.slice(0, pageSize), hasMore: rest.length > pageSize };
    },
    historyPruned: (info) => pruned.push(info),
    advanced: () => cursorsAtAdvance.push(sequencer.cursors),
    error: (err) => errors.push(err),
  });
  return { sequencer, delivered, cursorsAtAdvance, fetches, pruned, errors };
}

/** Streams that never went backwards between consecutive snapshots. */
function expectMonotonic(snapshots: Cursors[]): void {
  for (let i = 1; i < snapshots.length; i++) {
    for (const [s, c] of Object.entries(snapshots[i - 1])) expect(snapshots[i][s]).toBeGreaterThanOrEqual(c);
  }
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('EventSequencer (properties)', () => {
  it('delivers every event after the restored cursor exactly once, in order, for any interleaving of live, replayed, duplicated and gapped frames', async () => {
    const start = fc.record({ ch_1: fc.integer({ min: 0, max: HISTORY }), 'inbox:pr_1': fc.integer({ min: 0, max: HISTORY }) });
    await fc.assert(fc.asyncProperty(start, fc.array(action, { maxLength: 40 }), fc.integer({ min: 1, max: 5 }), async (cursors, actions, pageSize) => {
      const h = harness(pageSize);
      h.sequencer.restore(cursors);
      expect(h.sequencer.cursors).toEqual(cursors);
      for (const a of actions) {
        if (a.kind === 'push') {
          const e = event(a.stream, a.seq);
          // A live frame comes through toEventFrame (as the connection does); a replayed one as stored.
          h.sequencer.push(a.wire ? toEventFrame(e) : e);
        } else if (a.kind === 'replayed') h.sequencer.replayed(a.stream, a.seq);
        else if (a.kind === 'heads') h.sequencer.observeHeads({ [a.stream]: a.seq });
        else if (a.kind === 'fill') void h.sequencer.fill(a.stream);
        else await vi.advanceTimersByTimeAsync(a.ms);
        expectMonotonic([...h.cursorsAtAdvance, h.sequencer.cursors]);
        for (const s of STREAMS) {
          // What has been delivered so far is exactly the run after the restored cursor.
          const got = h.delivered[s] ?? [];
          expect(got).toEqual(range(cursors[s] + 1, cursors[s] + got.length));
        }
      }
      // The newest event arrives live: the gap before it is fetched without anyone asking.
      for (const s of STREAMS) h.sequencer.push(event(s, HISTORY));
      await vi.runAllTimersAsync();
      await h.sequencer.idle();
      for (const s of STREAMS) expect(h.delivered[s] ?? []).toEqual(range(cursors[s] + 1, HISTORY));
      expect(h.sequencer.cursors).toEqual({ ch_1: HISTORY, 'inbox:pr_1': HISTORY });
      expectMonotonic(h.cursorsAtAdvance);
      expect(h.cursorsAtAdvance.at(-1)).toEqual(h.sequencer.cursors);
      expect(h.pruned).toEqual([]);
      expect(h.errors).toEqual([]);
    }));
  });

  it('never moves a cursor backwards, whatever is restored, skipped to or announced', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('restore' as const), stream, seq: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('skip' as const), stream, seq: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ kind: fc.constant('heads' as const), stream, seq: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('replayed' as const), stream, seq: fc.integer({ min: 0, max: 50 }) }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const h = harness(1);
      const expected: Cursors = {};
      for (const o of ops) {
        const before = expected[o.stream];
        if (o.kind === 'restore') {
          h.sequencer.restore({ [o.stream]: o.seq });
          expected[o.stream] = Math.max(before ?? -Infinity, o.seq);
        } else if (o.kind === 'skip') {
          h.sequencer.skipTo(o.stream, o.seq);
          expected[o.stream] = Math.max(before ?? -Infinity, o.seq - 1);
        } else if (o.kind === 'heads') {
          h.sequencer.startAtHeads({ [o.stream]: o.seq });
          expected[o.stream] = before ?? o.seq;
        } else {
          h.sequencer.replayed(o.stream, o.seq);
          expected[o.stream] = before ?? o.seq;
        }
        expect(h.sequencer.cursors).toEqual(expected);
      }
      expectMonotonic(h.cursorsAtAdvance);
      // `advanced` fires exactly when a cursor changed.
      const changes = h.cursorsAtAdvance.length;
      expect(changes).toBeLessThanOrEqual(ops.length);
      expect(h.delivered).toEqual({});
      h.sequencer.stop();
    }));
  });
});

describe('EventSequencer edge cases', () => {
  it('starts a stream without a cursor at its first event, and delivers buffered successors', async () => {
    const h = harness(10);
    h.sequencer.push(event('ch_1', 5));
    h.sequencer.push(event('ch_1', 7));
    h.sequencer.push(event('ch_1', 6));
    expect(h.delivered).toEqual({ ch_1: [5, 6, 7] });
    await vi.runAllTimersAsync();
    await h.sequencer.idle();
    expect(h.fetches).toEqual([]);
    expect(h.cursorsAtAdvance).toEqual([{ ch_1: 5 }, { ch_1: 6 }, { ch_1: 7 }]);
  });

  it('waits the grace period before fetching a gap, and does not fetch when the gap closed meanwhile', async () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 1 });
    h.sequencer.push(event('ch_1', 4));
    await vi.advanceTimersByTimeAsync(199);
    expect(h.fetches).toEqual([]);
    h.sequencer.push(event('ch_1', 3));
    await vi.advanceTimersByTimeAsync(1);
    await h.sequencer.idle();
    expect(h.fetches).toEqual([{ stream: 'ch_1', after: 1 }]);
    expect(h.delivered).toEqual({ ch_1: range(2, HISTORY) });

    const closed = harness(100);
    closed.sequencer.restore({ ch_1: 1 });
    closed.sequencer.push(event('ch_1', 3));
    closed.sequencer.push(event('ch_1', 2));
    await vi.runAllTimersAsync();
    await closed.sequencer.idle();
    expect(closed.fetches).toEqual([]);
    expect(closed.delivered).toEqual({ ch_1: [2, 3] });
  });

  it('stop() cancels a pending gap fill; an explicit fill() cancels the grace timer', async () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 1 });
    h.sequencer.push(event('ch_1', 4));
    h.sequencer.stop();
    await vi.runAllTimersAsync();
    expect(h.fetches).toEqual([]);

    const filled = harness(100);
    filled.sequencer.restore({ ch_1: 1 });
    filled.sequencer.push(event('ch_1', 4));
    await filled.sequencer.fill('ch_1');
    expect(filled.fetches).toEqual([{ stream: 'ch_1', after: 1 }]);
    await vi.runAllTimersAsync();
    await filled.sequencer.idle();
    expect(filled.fetches).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('schedules one grace timer per stream however many frames wait', async () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 1 });
    for (const s of [4, 5, 6, 9]) h.sequencer.push(event('ch_1', s));
    expect(vi.getTimerCount()).toBe(1);
    await vi.runAllTimersAsync();
    await h.sequencer.idle();
    expect(h.fetches).toEqual([{ stream: 'ch_1', after: 1 }]);
    // While a fill runs, new gaps wait for it instead of scheduling another.
    const running = harness(100);
    running.sequencer.restore({ ch_1: 1 });
    const fill = running.sequencer.fill('ch_1');
    running.sequencer.push(event('ch_1', 9));
    expect(vi.getTimerCount()).toBe(0);
    await fill;
    expect(running.delivered).toEqual({ ch_1: range(2, HISTORY) });
  });

  it('replayed(): sets the cursor of a stream with none, fetches only when the cursor is behind', async () => {
    const h = harness(100);
    h.sequencer.replayed('ch_1', 4);
    expect(h.sequencer.cursors).toEqual({ ch_1: 4 });
    expect(h.cursorsAtAdvance).toEqual([{ ch_1: 4 }]);
    h.sequencer.replayed('ch_1', 4);
    h.sequencer.replayed('ch_1', 3);
    await h.sequencer.idle();
    expect(h.fetches).toEqual([]);
    h.sequencer.replayed('ch_1', 5);
    await h.sequencer.idle();
    expect(h.fetches).toEqual([{ stream: 'ch_1', after: 4 }]);
    expect(h.delivered).toEqual({ ch_1: range(5, HISTORY) });
  });

  it('startAtHeads() adopts heads only for streams without a cursor, announcing a change once', () => {
    const h = harness(1);
    h.sequencer.restore({ ch_1: 3 });
    h.sequencer.startAtHeads({ ch_1: 9, 'inbox:pr_1': 4, ch_2: 7 });
    expect(h.sequencer.cursors).toEqual({ ch_1: 3, 'inbox:pr_1': 4, ch_2: 7 });
    expect(h.cursorsAtAdvance).toEqual([{ ch_1: 3 }, { ch_1: 3, 'inbox:pr_1': 4, ch_2: 7 }]);
    h.sequencer.startAtHeads({ ch_1: 10 });
    expect(h.cursorsAtAdvance).toHaveLength(2);
  });

  it('fetches a stream behind the head its previous connection announced (resetHeads), not one merely in flight', async () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 2, 'inbox:pr_1': 5 });
    h.sequencer.resetHeads({ ch_1: 4, 'inbox:pr_1': 5, ch_9: 3 });
    h.sequencer.observeHeads({ ch_1: 4, 'inbox:pr_1': 6, ch_9: 3 });
    await h.sequencer.idle();
    expect(h.fetches).toEqual([{ stream: 'ch_1', after: 2 }]);
    // A new connection forgets the old announcements.
    const fresh = harness(100);
    fresh.sequencer.restore({ ch_1: 2 });
    fresh.sequencer.observeHeads({ ch_1: 4 });
    fresh.sequencer.resetHeads({ ch_1: 2 });
    fresh.sequencer.observeHeads({ ch_1: 4 });
    await fresh.sequencer.idle();
    expect(fresh.fetches).toEqual([]);
  });

  it('reports pruned history once and continues from the oldest kept event', async () => {
    const kept = (s: string) => range(6, 9).map((n) => event(s, n));
    const h = harness(2, kept);
    h.sequencer.restore({ ch_1: 2 });
    h.sequencer.push(event('ch_1', 8));
    await h.sequencer.fill('ch_1');
    expect(h.pruned).toEqual([{ stream: 'ch_1', fromSeq: 3, oldestSeq: 6, reason: 'history before oldestSeq is beyond retention' }]);
    expect(h.delivered).toEqual({ ch_1: [6, 7, 8, 9] });
    expect(h.fetches).toEqual([{ stream: 'ch_1', after: 2 }, { stream: 'ch_1', after: 8 }]);
  });

  it('does not report pruning when live frames filled the gap while the page was on its way', async () => {
    let respond: (page: StreamEventsPage) => void = () => {};
    const delivered: number[] = [];
    const pruned: unknown[] = [];
    const sequencer = new EventSequencer({
      deliver: (e) => delivered.push(e.seq),
      fetchAfter: () => new Promise((resolve) => { respond = resolve; }),
      historyPruned: (info) => pruned.push(info),
      advanced: () => {},
      error: () => {},
    });
    sequencer.restore({ ch_1: 2 });
    const fill = sequencer.fill('ch_1');
    sequencer.push(event('ch_1', 3));
    sequencer.push(event('ch_1', 4));
    respond({ events: [event('ch_1', 5)], hasMore: false });
    await fill;
    expect(pruned).toEqual([]);
    expect(delivered).toEqual([3, 4, 5]);
  });

  it('passes a failed fetch to error() and lets a later fill retry', async () => {
    let fail = true;
    const errors: unknown[] = [];
    const delivered: number[] = [];
    const sequencer = new EventSequencer({
      deliver: (e) => delivered.push(e.seq),
      fetchAfter: async (_s, after) => {
        if (fail) throw new Error('503');
        return { events: range(after + 1, 3).map((n) => event('ch_1', n)), hasMore: false };
      },
      historyPruned: () => {},
      advanced: () => {},
      error: (err) => errors.push(err),
    });
    sequencer.restore({ ch_1: 0 });
    await sequencer.fill('ch_1');
    expect(errors).toEqual([new Error('503')]);
    fail = false;
    await sequencer.fill('ch_1');
    expect(delivered).toEqual([1, 2, 3]);
    // A stream without a cursor has nothing to fetch after.
    await sequencer.fill('ch_2');
    expect(errors).toHaveLength(1);
  });

  it('stops buffering a stream at 10 000 waiting frames (the fill fetches the rest)', async () => {
    const delivered: number[] = [];
    const sequencer = new EventSequencer({
      deliver: (e) => delivered.push(e.seq),
      // Only the missing first event is served: frames beyond the buffer are simply not there yet.
      fetchAfter: async (_s, after) => ({ events: after < 1 ? [event('ch_1', 1)] : [], hasMore: false }),
      historyPruned: () => {},
      advanced: () => {},
      error: () => {},
    });
    sequencer.restore({ ch_1: 0 });
    for (let s = 2; s <= 10_002; s++) sequencer.push(event('ch_1', s));
    await vi.runAllTimersAsync();
    await sequencer.idle();
    expect(delivered).toHaveLength(10_001);
    expect(delivered.at(-1)).toBe(10_001);
  });
});

describe('EventSequencer: what each guard prevents', () => {
  it('does not buffer (nor fetch for) frames at or below the cursor', async () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 5 });
    h.sequencer.push(event('ch_1', 3));
    h.sequencer.push(event('ch_1', 5));
    expect(vi.getTimerCount()).toBe(0);
    await vi.runAllTimersAsync();
    await h.sequencer.idle();
    expect(h.fetches).toEqual([]);
    expect(h.delivered).toEqual({});
  });

  it('drops buffered frames a skip passed, so no gap fill follows', async () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 1 });
    h.sequencer.push(event('ch_1', 5));
    h.sequencer.push(event('ch_1', 4));
    h.sequencer.skipTo('ch_1', 6); // cursor 5: both buffered frames are behind or at it
    await vi.runAllTimersAsync();
    await h.sequencer.idle();
    expect(h.fetches).toEqual([]);
    expect(h.delivered).toEqual({});
  });

  it('announces a cursor change only when the cursor moved', () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 3 });
    h.sequencer.restore({ ch_1: 3 });
    h.sequencer.skipTo('ch_1', 4);
    expect(h.cursorsAtAdvance).toEqual([{ ch_1: 3 }]);
  });

  it('an explicit fill() cancels the pending grace timer', () => {
    const h = harness(100);
    h.sequencer.restore({ ch_1: 1 });
    h.sequencer.push(event('ch_1', 4));
    expect(vi.getTimerCount()).toBe(1);
    void h.sequencer.fill('ch_1');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a stream that had no cursor when the connection announced its head is not fetched when it starts later', async () => {
    const h = harness(100);
    h.sequencer.resetHeads({ ch_1: 5 });
    h.sequencer.push(event('ch_1', 2)); // the first event defines where the stream starts
    h.sequencer.observeHeads({ ch_1: 5 });
    await h.sequencer.idle();
    expect(h.fetches).toEqual([]);
  });

  it('stops fetching on an empty page even if it claims more, and on a stream without a cursor', async () => {
    const fetches: number[] = [];
    const errors: unknown[] = [];
    const sequencer = new EventSequencer({
      deliver: () => {},
      fetchAfter: async (_s, after) => { fetches.push(after); return { events: [], hasMore: true }; },
      historyPruned: () => {},
      advanced: () => {},
      error: (err) => errors.push(err),
    });
    await sequencer.fill('ch_1');
    expect(fetches).toEqual([]);
    sequencer.restore({ ch_1: 3 });
    await sequencer.fill('ch_1');
    expect(fetches).toEqual([3]);
    expect(errors).toEqual([]);
  });
});
