import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryCursorStore } from '../src/index.js';
import { sanitizeCursors } from '../src/realtime/cursor-store.js';

const streamName = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__proto__');
const goodSeq = fc.oneof(fc.constant(0), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const badSeq = fc.oneof(
  fc.integer({ max: -1 }), fc.constant(-0.5), fc.constant(1.5), fc.constant(Number.MAX_SAFE_INTEGER + 1), fc.constant(Number.NaN),
  fc.constant(Number.POSITIVE_INFINITY), fc.constant('3'), fc.constant(null), fc.constant(true), fc.constant([1]), fc.constant({ seq: 1 }),
);

describe('sanitizeCursors (properties)', () => {
  it('keeps exactly the entries whose seq is a non-negative safe integer', () => {
    fc.assert(fc.property(fc.dictionary(streamName, fc.oneof(goodSeq, badSeq)), (input) => {
      const expected = Object.fromEntries(Object.entries(input).filter(([, v]) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0));
      expect(sanitizeCursors(input)).toEqual(expected);
      expect(sanitizeCursors(expected)).toEqual(expected); // well-formed cursors pass unchanged
    }));
  });

  it('returns an empty map for anything that is not a plain object', () => {
    fc.assert(fc.property(fc.oneof(fc.constant(null), fc.constant(undefined), fc.string(), fc.integer(), fc.boolean(), fc.array(fc.nat())), (value) => {
      expect(sanitizeCursors(value)).toEqual({});
    }));
    expect(sanitizeCursors([5, 6])).toEqual({});
    expect(sanitizeCursors({ ch_1: 0 })).toEqual({ ch_1: 0 });
  });
});

describe('MemoryCursorStore (properties)', () => {
  it('loads what was saved last, as a copy neither side can change afterwards', async () => {
    await fc.assert(fc.asyncProperty(fc.dictionary(streamName, goodSeq), fc.array(fc.dictionary(streamName, goodSeq), { maxLength: 4 }), async (initial, saves) => {
      const given = { ...initial };
      const store = new MemoryCursorStore(given);
      given.mutated = 1;
      expect(await store.load()).toEqual(initial);
      let last = initial;
      for (const cursors of saves) {
        const saved = { ...cursors };
        await store.save(saved);
        saved.mutated = 1;
        last = cursors;
      }
      const loaded = await store.load();
      expect(loaded).toEqual(last);
      loaded.mutated = 2;
      expect(await store.load()).toEqual(last);
    }));
    expect(await new MemoryCursorStore().load()).toEqual({});
  });
});
