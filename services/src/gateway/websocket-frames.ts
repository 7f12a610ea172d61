/**
 * WebSocket text frames built by the gateway itself, header and payload in one buffer, byte for
 * byte what `ws` sends: a shared payload framed once for every connection (`wsTextFrame`), or a
 * payload written for one connection inside its frame (`allocTextPayload`). Encoding only: the
 * transport that writes them is `websocket-connection.ts`.
 */

/** A text frame's bytes as a server sends them (FIN, opcode 1, unmasked), by payload. */
const framedPayloads = new WeakMap<Buffer, Buffer>();

/**
 * The whole WebSocket text frame (header and payload in one buffer) of a shared payload, built
 * once however many connections send it: each then writes one buffer instead of `ws` building
 * a header per connection and writing header and payload apart. Byte for byte what `ws` sends.
 */
export function wsTextFrame(payload: Buffer): Buffer {
  let bytes = framedPayloads.get(payload);
  if (bytes) return bytes;
  bytes = textFrameOf(payload.length);
  payload.copy(bytes, bytes.length - payload.length);
  framedPayloads.set(payload, bytes);
  return bytes;
}

/**
 * A payload of `length` bytes (for the caller to fill) inside its whole text frame, header in
 * front: `wsTextFrame` of it answers that frame without building or copying it again. For a
 * payload written once per connection (a member's presence frame, cut for it alone).
 */
export function allocTextPayload(length: number): Buffer {
  const bytes = textFrameOf(length);
  const payload = bytes.subarray(bytes.length - length);
  framedPayloads.set(payload, bytes);
  return payload;
}

/** A text frame's buffer with its header written, for a payload of `length` bytes to fill in at its end. */
function textFrameOf(length: number): Buffer {
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const bytes = Buffer.allocUnsafe(header + length);
  bytes[0] = 0x81;
  if (length < 126) {
    bytes[1] = length;
  } else if (length < 65536) {
    bytes[1] = 126;
    bytes.writeUInt16BE(length, 2);
  } else {
    bytes[1] = 127;
    bytes.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    bytes.writeUInt32BE(length >>> 0, 6);
  }
  return bytes;
}
