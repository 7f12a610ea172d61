import { EventEmitter } from 'node:events';
import { AUTH_TIMEOUT_MS, CloseCode, closeAction } from '@sesamespace/sdk/protocol';
import type { WebSocket } from 'ws';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ConnectionRegistry } from '../src/gateway/connection-registry.js';
import type { SessionDeps } from '../src/gateway/session.js';
import { WebSocketConnection } from '../src/gateway/websocket-connection.js';

/** A `ws` socket as the connection uses it: frames in through 'message', out through send/close. */
function fakeSocket() {
  const socket = Object.assign(new EventEmitter(), {
    OPEN: 1, readyState: 1, sent: [] as string[], closed: undefined as { code: number; reason: string } | undefined,
    send(data: string) { socket.sent.push(data); },
    close(code: number, reason: string) { socket.closed = { code, reason }; socket.readyState = 3; },
    terminate() { socket.readyState = 3; },
  });
  return socket;
}

/**
 * The auth deadline covers the whole handshake: a key read that never answers (a database
 * connection lost mid-statement) must not leave the client in "authenticating" for good.
 */
describe('the realtime handshake deadline', () => {
  afterEach(() => { vi.useRealTimers(); });

  it('closes a connection whose handshake reads never answer, at the auth deadline', async () => {
    vi.useFakeTimers();
    const socket = fakeSocket();
    const registry = { add: vi.fn(), remove: vi.fn(), authenticated: vi.fn() };
    const presenceFanout = { handshakeBegan: vi.fn(), handshakeEnded: vi.fn() };
    const deps = {
      ctx: { logger: { error: vi.fn(), warn: vi.fn() } },
      startup: { apiKey: () => new Promise(() => {}) },
      presenceFanout,
    } as unknown as SessionDeps;
    new WebSocketConnection(socket as unknown as WebSocket, deps, registry as unknown as ConnectionRegistry);
    socket.emit('message', Buffer.from(JSON.stringify({ type: 'auth', apiKey: 'sk_stuck' })), false);
    await vi.advanceTimersByTimeAsync(AUTH_TIMEOUT_MS - 1);
    expect(socket.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2);
    expect(socket.closed).toEqual({ code: CloseCode.AuthTimeout, reason: 'the handshake did not complete in time' });
    expect(socket.sent.map((frame) => JSON.parse(frame) as { type: string })).toEqual([expect.objectContaining({ type: 'error' })]);
    expect(registry.remove).toHaveBeenCalledTimes(1);
    expect(registry.authenticated).not.toHaveBeenCalled();
    // The handshake that never completes no longer counts as under way (presence ticks wait for those).
    expect(presenceFanout.handshakeBegan).toHaveBeenCalledTimes(1);
    expect(presenceFanout.handshakeEnded).toHaveBeenCalledTimes(1);
    socket.emit('close');
    expect(presenceFanout.handshakeEnded).toHaveBeenCalledTimes(1);
  });

  it('closes a handshake whose key read fails as an internal error (resumable), not as rejected credentials (fatal)', async () => {
    const socket = fakeSocket();
    const registry = { add: vi.fn(), remove: vi.fn(), authenticated: vi.fn() };
    const deps = {
      ctx: { logger: { error: vi.fn(), warn: vi.fn() } },
      // The database unreachable, or a statement refused, while the key is read.
      startup: { apiKey: () => Promise.reject(new Error('connection terminated unexpectedly')) },
      presenceFanout: { handshakeBegan: vi.fn(), handshakeEnded: vi.fn() },
    } as unknown as SessionDeps;
    new WebSocketConnection(socket as unknown as WebSocket, deps, registry as unknown as ConnectionRegistry);
    socket.emit('message', Buffer.from(JSON.stringify({ type: 'auth', apiKey: 'sk_read_fails' })), false);
    await vi.waitFor(() => { expect(socket.closed).toBeDefined(); });
    expect(socket.closed?.code).toBe(CloseCode.InternalError);
    expect(closeAction(socket.closed!.code)).toBe('resume');
    expect(registry.authenticated).not.toHaveBeenCalled();
  });
});
