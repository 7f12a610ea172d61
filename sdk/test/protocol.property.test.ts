import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONNECT_PATH, CONTROL_FRAME_TYPES, isEventFrame, toEventFrame, toWireEventFrame, type SesameEvent } from '../src/protocol/index.js';

const controlTypes = ['authenticated', 'error', 'pong', 'heads', 'replayed', 'resync'];
const eventType = fc.oneof(fc.constant('message'), fc.constantFrom('read_receipt', 'reaction', 'member_joined'), fc.string()).filter((t) => !controlTypes.includes(t));
const payload = fc.oneof(fc.record({ id: fc.string(), content: fc.string() }), fc.boolean(), fc.integer(), fc.string());
const sesameEvent: fc.Arbitrary<SesameEvent> = fc.record({
  type: eventType, stream: fc.string(), seq: fc.nat(), data: payload, at: fc.string(),
});

describe('protocol frames (properties)', () => {
  it('names the WebSocket endpoint and the control frame types', () => {
    expect(CONNECT_PATH).toBe('/v1/connect');
    expect([...CONTROL_FRAME_TYPES].sort()).toEqual([...controlTypes].sort());
  });

  it('a durable event survives the wire: toEventFrame(JSON(toWireEventFrame(e))) has the payload under data, and under message for messages', () => {
    fc.assert(fc.property(sesameEvent, (e) => {
      const wire = toWireEventFrame(e);
      if (e.type === 'message') {
        expect(wire).toEqual({ type: e.type, stream: e.stream, seq: e.seq, at: e.at, message: e.data });
        expect('data' in wire).toBe(false);
      } else {
        expect(wire).toEqual(e);
        expect('message' in wire).toBe(false);
      }
      const frame = toEventFrame(JSON.parse(JSON.stringify(wire)) as typeof wire);
      expect(frame.data).toEqual(e.data);
      expect(frame.type).toBe(e.type);
      expect(frame.seq).toBe(e.seq);
      if (e.type === 'message') expect(frame.message).toEqual(e.data);
      else expect('message' in frame).toBe(false);
      expect(isEventFrame(frame)).toBe(true);
      // Stored events (data, no message) become the same frame.
      expect(toEventFrame(e)).toEqual(frame);
    }));
  });

  it('prefers data over message when a frame carries both', () => {
    const frame = toEventFrame({ type: 'message', stream: 'ch_1', seq: 1, at: 'now', data: { v: 'data' }, message: { v: 'message' } });
    expect(frame.data).toEqual({ v: 'data' });
    expect(frame.message).toEqual({ v: 'data' });
    expect(toEventFrame({ type: 'message', stream: 'ch_1', seq: 1, at: 'now', message: { v: 'message' } }).data).toEqual({ v: 'message' });
  });

  it('isEventFrame: a non-control type with a string stream and a numeric seq, nothing else', () => {
    fc.assert(fc.property(fc.string(), fc.anything(), fc.anything(), (type, stream, seq) => {
      const expected = typeof stream === 'string' && typeof seq === 'number' && !controlTypes.includes(type);
      expect(isEventFrame({ type, stream, seq })).toBe(expected);
    }));
    for (const type of controlTypes) expect(isEventFrame({ type, stream: 'ch_1', seq: 1 })).toBe(false);
    expect(isEventFrame({ type: 'message', stream: 'ch_1', seq: 1 })).toBe(true);
    expect(isEventFrame({ type: 'message', stream: 1, seq: 1 })).toBe(false);
    expect(isEventFrame({ type: 'message', stream: 'ch_1', seq: '1' })).toBe(false);
  });
});
