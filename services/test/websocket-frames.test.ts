import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import type { WebSocket } from 'ws';
import type { ConnectionRegistry } from '../src/gateway/connection-registry.js';
import type { SessionDeps, Sink } from '../src/gateway/session.js';
import { WebSocketConnection } from '../src/gateway/websocket-connection.js';
import { allocTextPayload, wsTextFrame } from '../src/gateway/websocket-frames.js';

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

  it.each([0, 125, 126, 65_535, 65_536, 70_000])('frames a %i-byte payload allocated with room for its header in place, byte for byte as ws does', (length) => {
    const payload = allocTextPayload(length).fill('é'.charCodeAt(0) % 256);
    const framed = wsTextFrame(payload);
    expect(framed.equals(wsFraming(Buffer.from(payload)))).toBe(true);
    // The frame is the buffer the payload sits in: nothing built or copied again.
    expect(framed.buffer).toBe(payload.buffer);
    expect(payload.byteOffset).toBe(framed.byteOffset + framed.length - length);
    expect(wsTextFrame(payload)).toBe(framed);
  });

  it('builds a shared payload\'s frame once', () => {
    const payload = Buffer.from('{"type":"message"}');
    expect(wsTextFrame(payload)).toBe(wsTextFrame(payload));
    expect(wsTextFrame(Buffer.from('{"type":"message"}'))).not.toBe(wsTextFrame(payload));
  });
});

describe('writing frames to a connection\'s socket', () => {
  /** A WebSocketConnection over a fake `ws` socket recording what reaches its TCP socket. */
  function connection() {
    const calls: string[] = [];
    const tcp = {
      cork: () => { calls.push('cork'); },
      uncork: () => { calls.push('uncork'); },
      write: (chunk: Buffer) => { calls.push(`write ${chunk.subarray(2).toString()}`); return true; },
    };
    const socket = {
      OPEN: 1, readyState: 1, extensions: '', bufferedAmount: 0, _socket: tcp, _sender: { _state: 0, _firstFragment: true },
      on: () => socket, send: (data: string) => { calls.push(`ws.send ${data}`); }, close: () => {}, terminate: () => {},
    };
    const registry = { add: () => {}, remove: () => {}, authenticated: () => {} };
    const conn = new WebSocketConnection(socket as unknown as WebSocket, {} as SessionDeps, registry as unknown as ConnectionRegistry);
    const sink = (conn as unknown as { sink(): Sink }).sink();
    return { calls, sink, close: () => { conn.close(1000, 'done'); } };
  }
  const nextTick = () => new Promise<void>((resolve) => { process.nextTick(resolve); });
  const meta = { type: 'message' };

  it('writes a lone frame at once, without corking the socket', async () => {
    const { calls, sink, close } = connection();
    sink.send(Buffer.from('a'), meta);
    expect(calls).toEqual(['write a']);
    await nextTick();
    expect(calls).toEqual(['write a']);
    close();
  });

  it('corks the frames that follow the first in the same tick and uncorks once, in order', async () => {
    const { calls, sink, close } = connection();
    sink.send(Buffer.from('a'), meta);
    sink.send(Buffer.from('b'), meta);
    sink.send('{"type":"replayed"}', { type: 'replayed' });
    sink.send(Buffer.from('c'), meta);
    expect(calls).toEqual(['write a', 'cork', 'write b', 'ws.send {"type":"replayed"}', 'write c']);
    await nextTick();
    expect(calls.at(-1)).toBe('uncork');
    expect(calls.filter((c) => c === 'uncork')).toHaveLength(1);
    // The next tick starts afresh: one frame, one write.
    sink.send(Buffer.from('d'), meta);
    expect(calls.at(-1)).toBe('write d');
    await nextTick();
    expect(calls.at(-1)).toBe('write d');
    close();
  });
});
