import { describe, expect, it } from 'vitest';
import { CloseCode, closeAction, inboxStream, isEventFrame, toEventFrame, toWireEventFrame } from '../src/protocol/index.js';

describe('protocol', () => {
  it('decides resume / refresh / fatal / stop per close code', () => {
    expect(closeAction(CloseCode.Normal)).toBe('stop');
    expect(closeAction(CloseCode.AuthFailed)).toBe('fatal');
    expect(closeAction(CloseCode.SessionExpired)).toBe('refresh-and-resume');
    for (const code of [CloseCode.GoingAway, CloseCode.SlowConsumer, CloseCode.HeartbeatTimeout, CloseCode.InvalidFrame, 1006, 4500]) {
      expect(closeAction(code)).toBe('resume');
    }
  });

  it('puts a message on the wire once, under `message`, and gives handlers both `message` and `data`', () => {
    const data = { id: 'msg_1', content: 'hi' };
    const wire = toWireEventFrame({ type: 'message', stream: 'ch_1', seq: 3, data, at: 'now' });
    expect(wire).toEqual({ type: 'message', stream: 'ch_1', seq: 3, at: 'now', message: data });
    expect(toWireEventFrame({ type: 'read_receipt', stream: 'ch_1', seq: 4, data, at: 'now' })).toEqual({ type: 'read_receipt', stream: 'ch_1', seq: 4, at: 'now', data });
    const frame = toEventFrame(JSON.parse(JSON.stringify(wire)));
    expect(frame.message).toEqual(data);
    expect(frame.data).toEqual(data);
    expect(toEventFrame({ type: 'read_receipt', stream: 'ch_1', seq: 4, data, at: 'now' }).message).toBeUndefined();
    expect(isEventFrame(frame)).toBe(true);
    expect(isEventFrame({ type: 'pong' })).toBe(false);
    expect(isEventFrame({ type: 'replayed', stream: 'ch_1', seq: 3 })).toBe(false);
    expect(inboxStream('pr_1')).toBe('inbox:pr_1');
  });
});
