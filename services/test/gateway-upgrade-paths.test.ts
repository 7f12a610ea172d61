import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

const CAP = 2;

/** Tries an upgrade: the open socket, or the HTTP response that refused it. */
function attempt(url: string, headers: Record<string, string> = {}): Promise<{ socket: TestSocket } | { status: number; body: any }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => { resolve({ socket: new TestSocket(ws) }); });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => { body += chunk; });
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, body: JSON.parse(body) }); });
    });
    ws.once('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err); });
  });
}

/**
 * `GET /v1/connect` upgrades go straight to `ws` (not through fastify's request lifecycle) only
 * when nothing fastify does for them matters: other paths still answer fastify's 404, and with
 * `SESAME_TRUST_PROXY` set the per-address cap counts the address fastify derives from
 * `X-Forwarded-For`.
 */
describe.each(targets())('gateway upgrades on %s', (target) => {
  let api: TestApi;
  let direct: TestGateway;
  let proxied: TestApi;
  let behindProxy: TestGateway;
  const open: TestSocket[] = [];

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS: String(CAP) });
    direct = await startTestGateway(api.ctx);
    proxied = await startTestApi(target, { SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS: String(CAP), SESAME_TRUST_PROXY: '127.0.0.1' });
    behindProxy = await startTestGateway(proxied.ctx);
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await direct?.close();
    await behindProxy?.close();
    await api?.close();
    await proxied?.close();
  });

  it('answers an upgrade to another path with the 404 Problem Details', async () => {
    const result = await attempt(`${direct.url}/v1/elsewhere`);
    expect(result).toMatchObject({ status: 404, body: { type: 'urn:sesame:error:not-found' } });
  });

  it('counts the forwarded client address behind a trusted proxy, not the proxy\'s', async () => {
    for (let i = 0; i < CAP; i++) {
      const result = await attempt(`${behindProxy.url}/v1/connect`, { 'x-forwarded-for': '198.51.100.7' });
      if (!('socket' in result)) throw new Error(`refused: ${JSON.stringify(result.body)}`);
      open.push(result.socket);
    }
    expect(await attempt(`${behindProxy.url}/v1/connect`, { 'x-forwarded-for': '198.51.100.7' })).toMatchObject({ status: 429 });
    // Another client behind the same proxy has slots of its own.
    const other = await attempt(`${behindProxy.url}/v1/connect`, { 'x-forwarded-for': '198.51.100.8' });
    expect('socket' in other).toBe(true);
    if ('socket' in other) open.push(other.socket);
  });

  it.each([['direct', false], ['behind a proxy (SESAME_TRUST_PROXY)', true]])('answers an upgrade that arrives after close() began with fastify\'s 503, as any request then (%s)', async (_, viaProxy) => {
    const closing = await startTestGateway(viaProxy ? proxied.ctx : api.ctx);
    const { port } = new URL(closing.httpUrl);
    // A connection accepted before close(), its upgrade request begun (so not idle: close()
    // leaves it open) and finished only once the gateway is closing.
    const accepted = once(closing.app.server, 'connection') as Promise<[Socket]>;
    const raw = connect(Number(port), '127.0.0.1');
    await once(raw, 'connect');
    const [serverSide] = await accepted;
    let answer = '';
    raw.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
    raw.on('error', () => {});
    raw.write('GET /v1/connect HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // The server has read the begun request: its HTTP parser takes what the socket reads as it
    // reads it (no 'data' event to wait for), so the bytes read are the sign. One loop turn or
    // two on loopback, however long a loaded machine takes.
    while (serverSide.bytesRead === 0) await nextTurn();
    // Another client's socket: closed with 1001 by the gateway's preClose, i.e. once closing began.
    const watcher = await TestSocket.open(closing.url);
    const closed = closing.close();
    await once(watcher.ws, 'close');
    raw.write('Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    const ended = once(raw, 'close');
    while (!answer.includes('\r\n\r\n') && !raw.destroyed) await once(raw, 'data');
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
    // The gateway ends the connection after its answer (else close() would wait for the client).
    await ended;
    await closed;
    expect(answer).toContain('"statusCode":503');
  });
});
