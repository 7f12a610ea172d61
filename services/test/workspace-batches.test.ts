import { describe, expect, it } from 'vitest';
import { WorkspaceBatches } from '../src/api/routes/channels/messages/group-commit.js';

interface Write { key: string; name: string }

/** A WorkspaceBatches whose commits the test finishes by hand: `answer` the statement, `settle` the commit. */
function harness(maxInFlight = 2) {
  const started: Array<{ names: string[]; answer: (leftOut?: string[]) => void; settle: () => void }> = [];
  const batches = new WorkspaceBatches<Write>(3, (_workspace, batch, answered) => new Promise<void>((resolve) => {
    started.push({
      names: batch.map((w) => w.name),
      answer: (leftOut = []) => { answered(batch.filter((w) => leftOut.includes(w.name))); },
      settle: resolve,
    });
  }), (w) => w.key, maxInFlight);
  const add = (key: string, name: string) => { batches.add('ws', { key, name }); };
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return { started, add, tick, names: () => started.map((s) => s.names) };
}

describe('WorkspaceBatches', () => {
  it('sends a second batch while the first is in the database, and a third once a statement answers, before its callers are answered', async () => {
    const { started, add, names } = harness();
    add('a', 'a1');
    add('b', 'b1');
    add('c', 'c1');
    add('d', 'd1');
    // Two in flight (a1 alone, then b1: each went when a place was free); c1 and d1 wait.
    expect(names()).toEqual([['a1'], ['b1']]);
    started[0].answer();
    // The first statement answered: the next batch goes at once, its commit not settled yet.
    expect(names()).toEqual([['a1'], ['b1'], ['c1', 'd1']]);
    started[1].answer();
    started[0].settle();
    add('e', 'e1');
    expect(names()).toEqual([['a1'], ['b1'], ['c1', 'd1'], ['e1']]);
  });

  it('never puts writes of one key in two batches in flight: they keep their order', async () => {
    const { started, add, names, tick } = harness();
    add('alice', 'a1');
    add('alice', 'a2');
    add('bob', 'b1');
    add('alice', 'a3');
    add('carol', 'c1');
    // a1 went alone, then bob's b1 in the second place; alice's a2 and a3 wait for a1, whatever the room.
    expect(names()).toEqual([['a1'], ['b1']]);
    started[0].answer();
    expect(names()).toEqual([['a1'], ['b1'], ['a2', 'a3', 'c1']]);
    // A write left out of its batch (written alone afterwards) keeps its key until its commit settles.
    started[1].answer(['b1']);
    add('bob', 'b2');
    add('dave', 'd1');
    expect(names()).toEqual([['a1'], ['b1'], ['a2', 'a3', 'c1'], ['d1']]);
    started[1].settle();
    await tick();
    // b1 written: bob's key is free, but both places are taken.
    expect(names()).toEqual([['a1'], ['b1'], ['a2', 'a3', 'c1'], ['d1']]);
    started[2].answer();
    expect(names()).toEqual([['a1'], ['b1'], ['a2', 'a3', 'c1'], ['d1'], ['b2']]);
  });

  it('with one place, the next batch waits for the statement in flight, then carries every write queued meanwhile', async () => {
    const { started, add, names } = harness(1);
    add('a', 'a1');
    add('b', 'b1');
    add('a', 'a2');
    expect(names()).toEqual([['a1']]);
    started[0].answer();
    expect(names()).toEqual([['a1'], ['b1', 'a2']]);
  });
});
