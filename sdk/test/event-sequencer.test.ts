import { describe, expect, it } from 'vitest';
import type { EventFrame } from '../src/protocol/index.js';
import { EventSequencer, type StreamEventsPage } from '../src/realtime/event-sequencer.js';
import { event, waitFor } from './realtime-harness.js';

function sequencer(history: Record<string, number[]> = {}) {
  const delivered: string[] = [];
  const fetches: Array<{ stream: string; after: number }> = [];
  const pruned: unknown[] = [];
  let release: (() => void) | undefined;
  const hold = { enabled: false };
  const seq = new EventSequencer({
    deliver: (e: EventFrame) => delivered.push(`${e.stream}#${e.seq}`),
    fetchAfter: async (stream, after): Promise<StreamEventsPage> => {
      fetches.push({ stream, after });
      if (hold.enabled) await new Promise<void>((resolve) => { release = resolve; });
      return { events: (history[stream] ?? []).filter((s) => s > after).map((s) => event(stream, s)), hasMore: false };
    },
    historyPruned: (info) => pruned.push(info),
    advanced: () => {},
    error: (err) => { throw err; },
  }, 0);
  return { seq, delivered, fetches, pruned, hold, release: () => release?.() };
}

describe('EventSequencer', () => {
  it('fills only when a stream is still behind the head announced by the previous heads', async () => {
    const { seq, fetches, delivered } = sequencer({ ch_1: [1, 2, 3] });
    seq.restore({ ch_1: 1 });
    seq.resetHeads({});
    seq.observeHeads({ ch_1: 3 }); // events 2-3 may simply be in flight
    expect(fetches).toEqual([]);
    seq.push(event('ch_1', 2));
    seq.observeHeads({ ch_1: 3 }); // still behind 3: lost
    await seq.idle();
    expect(fetches).toEqual([{ stream: 'ch_1', after: 2 }]);
    expect(delivered).toEqual(['ch_1#2', 'ch_1#3']);
    seq.observeHeads({ ch_1: 3 }); // caught up: nothing to do
    await seq.idle();
    expect(fetches).toHaveLength(1);
  });

  it('runs one gap fill per stream at a time', async () => {
    const { seq, fetches, delivered, hold, release } = sequencer({ ch_1: [1, 2, 3, 4] });
    hold.enabled = true;
    seq.restore({ ch_1: 1 });
    const first = seq.fill('ch_1');
    const second = seq.fill('ch_1');
    expect(second).toBe(first);
    seq.push(event('ch_1', 4));
    await waitFor(() => fetches.length === 1, 'the fetch');
    release();
    await seq.idle();
    expect(fetches).toHaveLength(1);
    expect(delivered).toEqual(['ch_1#2', 'ch_1#3', 'ch_1#4']);
  });

  it('never moves a cursor backwards and ignores seqs at or below it', () => {
    const { seq, delivered } = sequencer();
    seq.restore({ ch_1: 5 });
    seq.restore({ ch_1: 3 });
    seq.startAtHeads({ ch_1: 9, ch_2: 4 });
    seq.push(event('ch_1', 5));
    seq.push(event('ch_1', 6));
    seq.skipTo('ch_1', 2);
    expect(seq.cursors).toEqual({ ch_1: 6, ch_2: 4 });
    expect(delivered).toEqual(['ch_1#6']);
  });

  it('delivers buffered successors after a skip', () => {
    const { seq, delivered } = sequencer();
    seq.restore({ ch_1: 1 });
    seq.push(event('ch_1', 11));
    seq.push(event('ch_1', 10));
    seq.skipTo('ch_1', 10);
    expect(delivered).toEqual(['ch_1#10', 'ch_1#11']);
    seq.stop();
  });
});
