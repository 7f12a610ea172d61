import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { wsTextFrame } from '../src/gateway/websocket-connection.js';

/** What `ws` itself puts on the wire for a server's text frame of `payload`. */
function wsFraming(payload: Buffer): Buffer {
  // `ws` exports its Sender at runtime; its types do not declare it.
  const { frame } = (ws as unknown as { Sender: { frame: (data: Buffer, options: object) => Buffer[] } }).Sender;
  return Buffer.concat(frame(payload, { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }));
}

describe('pre-framed WebSocket text frames', () => {
  it.each([0, 1, 125, 126, 127, 615, 65_535, 65_536, 70_000])('frames a %i-byte payload byte for byte as ws does', (length) => {
    const payload = Buffer.alloc(length, 'é'.charCodeAt(0) % 256);
    expect(wsTextFrame(payload).equals(wsFraming(payload))).toBe(true);
  });

  it('builds a shared payload\'s frame once', () => {
    const payload = Buffer.from('{"type":"message"}');
    expect(wsTextFrame(payload)).toBe(wsTextFrame(payload));
    expect(wsTextFrame(Buffer.from('{"type":"message"}'))).not.toBe(wsTextFrame(payload));
  });
});
