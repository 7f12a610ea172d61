// Node 18 smoke test of the BUILT package (`npm run test:node18` runs it under Node 18, which
// vitest 4 no longer supports). Loads dist/index.js and dist/index.cjs through the exports map,
// then per build: sendMessage without a clientGeneratedId (random id from Web Crypto, which Node
// 18 only has as node:crypto's webcrypto), generateKeyPair, an Ed25519 agent login whose signature
// the stub server verifies, realtime connect to a local `ws` server, and FileCursorStore.
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocketServer } from 'ws';

const sdkDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split('.')[0]);

if (!existsSync(join(sdkDir, 'dist', 'index.js'))) {
  console.error('node18-smoke: no dist/ — run `npm run build -w @sesamespace/sdk` first');
  process.exit(1);
}
// On Node 18 the fallback is what is under test: there must be no global Web Crypto.
if (major === 18) assert.equal(typeof globalThis.crypto, 'undefined');

/** A stub API: records requests, verifies Ed25519 challenge signatures like the server does. */
async function startApi() {
  const requests = [];
  const agents = new Map();
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const body = text ? JSON.parse(text) : undefined;
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
    const reply = (status, data) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(data)); };
    if (req.url === '/api/v1/auth/challenge') return reply(200, { data: { nonce: 'nonce-1' } });
    if (req.url === '/api/v1/auth/verify') {
      const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(agents.get(body.handle), 'base64').toString('base64url') }, format: 'jwk' });
      const ok = verify(null, Buffer.from(`sesame-auth:${body.handle}:${body.nonce}`), key, Buffer.from(body.signature, 'base64'));
      return ok ? reply(200, { data: { accessToken: 'at_agent', refreshToken: 'rt_agent', expiresIn: 900 } }) : reply(401, { type: 'urn:sesame:error:unauthorized', title: 'Unauthorized', status: 401 });
    }
    const match = /^\/api\/v1\/channels\/([^/]+)\/messages$/.exec(req.url ?? '');
    if (match && req.method === 'POST') return reply(201, { data: { id: 'msg_1', channelId: match[1], seq: 1, content: body.content, clientGeneratedId: body.clientGeneratedId } });
    reply(404, { type: 'urn:sesame:error:not-found', title: 'Not Found', status: 404 });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, agents, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** A stub gateway: answers the auth frame with `authenticated`, records what the client sends. */
async function startGateway() {
  const frames = [];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket, request) => {
    socket.on('message', (raw) => {
      const frame = JSON.parse(String(raw));
      frames.push({ path: request.url, ...frame });
      if (frame.type === 'auth') {
        socket.send(JSON.stringify({ type: 'authenticated', protocolVersion: 1, heartbeatIntervalMs: 30_000, sessionId: 'sess_1', principal: { id: 'pr_1', handle: 'agent', kind: 'agent', workspaceId: 'ws_1' }, heads: {} }));
      }
    });
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    frames,
    close: () => { for (const client of server.clients) client.terminate(); return new Promise((resolve) => server.close(resolve)); },
  };
}

async function smoke(label, sdk) {
  const api = await startApi();
  const gateway = await startGateway();
  const dir = await mkdtemp(join(tmpdir(), 'sesame-node18-'));
  try {
    // sendMessage without an id: the SDK makes one from Web Crypto random bytes.
    const client = new sdk.SesameClient({ apiUrl: api.url, apiKey: 'sk_smoke' });
    const message = await client.sendMessage('ch_1', { content: 'hello', kind: 'text' });
    assert.match(message.clientGeneratedId, /^[0-9a-f]{32}$/);
    assert.equal(api.requests.at(-1).authorization, 'Bearer sk_smoke');

    // Key pairs and signing.
    const keys = sdk.generateKeyPair();
    assert.equal(sdk.publicKeyOf(keys.privateKey), keys.publicKey);
    assert.notEqual(sdk.generateKeyPair().privateKey, keys.privateKey);

    // An Ed25519 agent: the challenge signature is checked by the stub API, then the token goes
    // into the gateway's auth frame over `ws`.
    api.agents.set('agent', keys.publicKey);
    const agent = new sdk.SesameClient({ apiUrl: api.url, wsUrl: gateway.url, agent: { handle: 'agent', privateKey: keys.privateKey }, cursorStore: new sdk.FileCursorStore(join(dir, 'cursors.json')) });
    await agent.connect();
    assert.equal(agent.connectionState, 'open');
    assert.deepEqual(gateway.frames[0], { path: '/v1/connect', type: 'auth', token: 'at_agent' });
    await agent.disconnect();
    assert.equal(agent.connectionState, 'closed');

    // FileCursorStore writes and reads back.
    const store = new sdk.FileCursorStore(join(dir, 'nested', 'cursors.json'), { coalesceMs: 1 });
    await store.save({ ch_1: 3 });
    assert.deepEqual(await store.load(), { ch_1: 3 });
    console.log(`ok ${label} on Node ${process.versions.node}`);
  } finally {
    await gateway.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// Through the exports map, as Node users load it: the `node` condition picks dist/index.*.
const esm = await import('@sesamespace/sdk');
assert.equal(esm.SesameClient, (await import(pathToFileURL(join(sdkDir, 'dist', 'index.js')).href)).SesameClient);
assert.equal(require.resolve('@sesamespace/sdk'), join(sdkDir, 'dist', 'index.cjs'));
await smoke('dist/index.js (ESM)', esm);
await smoke('dist/index.cjs (CJS)', require('@sesamespace/sdk'));
