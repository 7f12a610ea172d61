import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

const CAP = 3;

/** Tries to open a WebSocket from `localAddress`: the socket, or the HTTP response that refused the upgrade. */
function attempt(url: string, localAddress = '127.0.0.1'): Promise<{ socket: TestSocket } | { status: number; headers: Record<string, unknown>; body: any }> {
  const ws = new WebSocket(`${url}/v1/connect`, { localAddress });
  return new Promise((resolve, reject) => {
    ws.once('open', () => { resolve({ socket: new TestSocket(ws) }); });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => { body += chunk; });
      response.on('end', () => { resolve({ status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(body) }); });
    });
    ws.once('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err); });
  });
}

describe.each(targets())('gateway per-address connection cap on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  const open: TestSocket[] = [];

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS: String(CAP) });
    gateway = await startTestGateway(api.ctx);
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await gateway?.close();
    await api?.close();
  });

  it('refuses the upgrade over the cap with 429 Problem Details, counts per address, and frees the slot on close', async () => {
    const agent = await api.createAgent('many-sockets');
    // Authenticated and not yet authenticated connections count alike.
    const { socket: authenticated } = await TestSocket.auth(gateway.url, { apiKey: agent.apiKey });
    open.push(authenticated);
    for (let i = 1; i < CAP; i++) {
      const result = await attempt(gateway.url);
      if (!('socket' in result)) throw new Error(`connection ${i + 1} refused: ${JSON.stringify(result.body)}`);
      open.push(result.socket);
    }

    const refused = await attempt(gateway.url);
    expect('status' in refused && refused).toMatchObject({
      status: 429,
      headers: { 'content-type': expect.stringContaining('application/problem+json'), 'retry-after': expect.any(String) },
      body: { type: 'urn:sesame:error:rate-limited', status: 429 },
    });

    // Another address is not affected by this one's connections (all of 127/8 is loopback).
    const elsewhere = await attempt(gateway.url, '127.0.0.2');
    expect('socket' in elsewhere).toBe(true);
    if ('socket' in elsewhere) open.push(elsewhere.socket);

    // Closing one frees its slot once the server has seen the close.
    authenticated.close();
    await authenticated.waitForClose();
    let again: Awaited<ReturnType<typeof attempt>> | undefined;
    const started = Date.now();
    while (!(again && 'socket' in again) && Date.now() - started < 10_000) {
      again = await attempt(gateway.url);
      if (!('socket' in again)) await new Promise((r) => setTimeout(r, 20));
    }
    expect(again && 'socket' in again).toBe(true);
    if (again && 'socket' in again) open.push(again.socket);
  });
});
