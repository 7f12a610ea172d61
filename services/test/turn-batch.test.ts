import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../src/gateway/startup-reads.js';

/** A load the test answers by hand, recording each call's keys. */
function manualLoad() {
  const calls: Array<{ keys: string[]; answer: () => void; fail: (err: Error) => void }> = [];
  const load = (keys: string[]) => new Promise<Map<string, string>>((resolve, reject) => {
    calls.push({ keys, answer: () => { resolve(new Map(keys.map((k) => [k, `v:${k}`]))); }, fail: reject });
  });
  return { calls, load };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatch', () => {
  it('loads the keys of one turn together, and those asked while that load is under way together after it', async () => {
    const { calls, load } = manualLoad();
    const batch = new TurnBatch(load);
    const first = [batch.get('a'), batch.get('b'), batch.get('a')];
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([['a', 'b']]);

    // Asked over several turns while the first load is out: no statement of their own yet.
    const second = [batch.get('c')];
    await turn();
    second.push(batch.get('d'));
    await turn();
    expect(calls).toHaveLength(1);

    calls[0].answer();
    expect(await Promise.all(first)).toEqual(['v:a', 'v:b', 'v:a']);
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([['a', 'b'], ['c', 'd']]);
    calls[1].answer();
    expect(await Promise.all(second)).toEqual(['v:c', 'v:d']);
  });

  it('rejects the waiters of a failed load and goes on with the next keys', async () => {
    const { calls, load } = manualLoad();
    const batch = new TurnBatch(load);
    const failed = batch.get('a');
    await turn();
    const later = batch.get('b');
    calls[0].fail(new Error('connection lost'));
    await expect(failed).rejects.toThrow('connection lost');
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b']]);
    calls[1].answer();
    expect(await later).toBe('v:b');
  });

  it('a load that never answers holds the next keys back only for a while: they go in a statement of their own', async () => {
    const { calls, load } = manualLoad();
    const batch = new TurnBatch(load, 30);
    const stuck = batch.get('a');
    await turn();
    const later = batch.get('b');
    await turn();
    expect(calls).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([['a'], ['b']]);
    calls[1].answer();
    expect(await later).toBe('v:b');
    // The stuck load's own waiter still gets its answer when (if) it comes.
    calls[0].answer();
    expect(await stuck).toBe('v:a');
  });

  it('a load that throws at once rejects its waiters and does not stop the batch', async () => {
    let calls = 0;
    const batch = new TurnBatch<string, string>((keys) => {
      calls++;
      if (calls === 1) throw new Error('bad statement');
      return Promise.resolve(new Map(keys.map((k) => [k, `v:${k}`])));
    });
    await expect(batch.get('a')).rejects.toThrow('bad statement');
    expect(await batch.get('b')).toBe('v:b');
  });
});
