import * as ed from '@noble/ed25519';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadRequestError, ConflictError, ConnectionError, ForbiddenError, InternalServerError, NotFoundError, SesameClient,
  ServiceUnavailableError, UnauthorizedError, UnprocessableEntityError, generateKeyPair,
} from '../src/index.js';
import { decodeKey } from '../src/keys.js';
import { fakeServer, json, problem } from './fake-server.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => { await close?.(); close = undefined; });

async function serve(handler: Parameters<typeof fakeServer>[0]) {
  const server = await fakeServer(handler);
  close = server.close;
  return server;
}

describe('SesameClient options', () => {
  it('requires exactly one credential and valid URLs, with messages that say how to fix it', () => {
    expect(() => new SesameClient({ apiUrl: 'http://x' })).toThrow(/exactly one credential/);
    expect(() => new SesameClient({ apiUrl: 'http://x', apiKey: 'sk_a', token: 't' })).toThrow(/exactly one credential/);
    expect(() => new SesameClient({ apiUrl: 'x', apiKey: 'sk_a' })).toThrow(/apiUrl/);
    expect(() => new SesameClient({ apiUrl: 'http://x', wsUrl: 'http://y', apiKey: 'sk_a' })).toThrow(/wsUrl/);
    expect(() => new SesameClient({ apiUrl: 'http://x', agent: { handle: 'a', privateKey: '' } })).toThrow(/exactly one credential|privateKey/);
  });
});

describe('errors', () => {
  it.each([
    [400, 'bad-request', BadRequestError], [401, 'unauthorized', UnauthorizedError], [403, 'forbidden', ForbiddenError],
    [404, 'not-found', NotFoundError], [409, 'conflict', ConflictError], [422, 'unprocessable-entity', UnprocessableEntityError],
    [500, 'internal-error', InternalServerError],
  ] as const)('maps %i Problem Details to its class', async (status, kind, ErrorClass) => {
    const server = await serve((_req, res) => { json(res, status, problem(status, kind, 'what went wrong'), { 'x-request-id': 'req-1' }); });
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_secret_value_123', maxRetries: 0 });
    const error = (await client.getMe().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toMatchObject({ status, type: `urn:sesame:error:${kind}`, detail: 'what went wrong', requestId: 'req-1' });
    expect(error.message).not.toContain('sk_secret_value_123');
  });

  it('reports unreachable servers as ConnectionError', async () => {
    const client = new SesameClient({ apiUrl: 'http://127.0.0.1:1', apiKey: 'sk_a', maxRetries: 0 });
    await expect(client.getMe()).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe('retries', () => {
  it('retries a 429 honouring Retry-After, then succeeds', async () => {
    let calls = 0;
    const server = await serve((_req, res) => { if (++calls === 1) json(res, 429, problem(429, 'rate-limited'), { 'retry-after': '0' }); else json(res, 200, { data: { id: 'me' } }); });
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a' });
    expect(await client.getMe()).toEqual({ id: 'me' });
    expect(calls).toBe(2);
  });

  it('gives up after maxRetries with the typed error', async () => {
    const server = await serve((_req, res) => { json(res, 503, problem(503, 'service-unavailable'), { 'retry-after': '0' }); });
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 2 });
    await expect(client.getMe()).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a non-idempotent POST on 503', async () => {
    const server = await serve((_req, res) => { json(res, 503, problem(503, 'service-unavailable'), { 'retry-after': '0' }); });
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 3 });
    await expect(client.createAgent({ handle: 'x' })).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(server.requests).toHaveLength(1);
  });

  it('sendMessage carries a generated clientGeneratedId, reused by its retries', async () => {
    let calls = 0;
    const server = await serve((req, res) => { if (++calls < 3) json(res, 503, problem(503, 'service-unavailable'), { 'retry-after': '0' }); else json(res, 201, { data: { id: 'msg_1', ...req.body } }); });
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 3 });
    const message = await client.sendMessage('ch_1', { content: 'hi', kind: 'text' });
    const ids = server.requests.map((r) => r.body.clientGeneratedId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(message.clientGeneratedId).toBe(ids[0]);
    expect(server.requests[0].headers.authorization).toBe('Bearer sk_a');
  });
});

describe('Ed25519 agent auth', () => {
  it('logs in once for concurrent callers, signs the handle-bound challenge, refreshes after a 401', async () => {
    const keys = generateKeyPair();
    const publicKey = decodeKey(keys.publicKey);
    let issued = 0;
    let revoked = '';
    const server = await serve(async (req, res) => {
      if (req.url === '/api/v1/auth/challenge') { json(res, 200, { data: { nonce: `n${issued}`, expiresAt: '' } }); return; }
      if (req.url === '/api/v1/auth/verify') {
        const ok = await ed.verifyAsync(decodeKey(req.body.signature), new TextEncoder().encode(`sesame-auth:${req.body.handle}:${req.body.nonce}`), publicKey);
        if (!ok) { json(res, 401, problem(401, 'unauthorized')); return; }
        issued++;
        json(res, 200, { data: { accessToken: `tok${issued}`, refreshToken: `rt${issued}`, expiresIn: 900, tokenType: 'Bearer', principal: {} } }); return;
      }
      if (req.url === '/api/v1/auth/refresh') {
        issued++;
        json(res, 200, { data: { accessToken: `tok${issued}`, refreshToken: `rt${issued}`, expiresIn: 900, tokenType: 'Bearer', principal: {} } }); return;
      }
      const bearer = req.headers.authorization?.slice(7);
      if (bearer === revoked) { json(res, 401, problem(401, 'unauthorized')); return; }
      json(res, 200, { data: { bearer } });
    });
    const client = new SesameClient({ apiUrl: server.url, agent: { handle: 'bot', privateKey: keys.privateKey } });
    const results = await Promise.all(Array.from({ length: 5 }, () => client.getMe() as Promise<unknown>));
    expect(results).toEqual(Array(5).fill({ bearer: 'tok1' }));
    expect(server.requests.filter((r) => r.url === '/api/v1/auth/verify')).toHaveLength(1);
    revoked = 'tok1';
    expect(await client.getMe()).toEqual({ bearer: 'tok2' });
    expect(server.requests.filter((r) => r.url === '/api/v1/auth/refresh').map((r) => r.body)).toEqual([{ refreshToken: 'rt1' }]);
  });

  it('rejects a malformed private key clearly', async () => {
    const server = await serve((_req, res) => { json(res, 200, { data: { nonce: 'n', expiresAt: '' } }); });
    const client = new SesameClient({ apiUrl: server.url, agent: { handle: 'bot', privateKey: 'abcd' } });
    await expect(client.getMe()).rejects.toThrow(/32-byte Ed25519 seed/);
  });
});

describe('list shapes', () => {
  it('returns the README shapes: { channels }, { messages, nextCursor }', async () => {
    const server = await serve((req, res) => { json(res, 200, { data: [{ id: req.url.includes('messages') ? 'msg_1' : 'ch_1' }], pagination: { nextCursor: 'c2', hasMore: true } }); });
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a' });
    const { channels } = await client.listChannels();
    expect(channels).toEqual([{ id: 'ch_1' }]);
    const { messages, nextCursor, hasMore } = await client.getMessages('ch_1', { limit: 50 });
    expect({ messages, nextCursor, hasMore }).toEqual({ messages: [{ id: 'msg_1' }], nextCursor: 'c2', hasMore: true });
    expect(server.requests[1].url).toBe('/api/v1/channels/ch_1/messages?limit=50');
  });
});

describe('setup status and the audit log', () => {
  it('reads setup status without a credential, and audit pages and the chain check with one', async () => {
    const entry = { id: 2, actorId: 'pr_1', action: 'agent.created', targetType: 'principal', targetId: 'pr_2', data: {}, at: '2026-01-01T00:00:00.000Z', prevHash: 'a', hash: 'b' };
    const server = await serve((req, res) => {
      if (req.url === '/api/v1/setup/status') { json(res, 200, { setupComplete: false, hasAdmin: false }); return; }
      if (req.url === '/api/v1/audit?limit=1&action=agent.created') { json(res, 200, { data: [entry], pagination: { nextCursor: 'c2', hasMore: true } }); return; }
      if (req.url === '/api/v1/audit/verify') { json(res, 200, { data: { valid: true, entries: 2, firstInvalidId: null } }); return; }
      json(res, 404, problem(404, 'not-found'));
    });
    await expect(SesameClient.getSetupStatus({ apiUrl: server.url })).resolves.toEqual({ setupComplete: false, hasAdmin: false });
    expect(server.requests[0].headers.authorization).toBeUndefined();
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_admin' });
    await expect(client.listAuditLog({ limit: 1, action: 'agent.created' })).resolves.toEqual({ entries: [entry], nextCursor: 'c2' });
    await expect(client.verifyAuditLog()).resolves.toEqual({ valid: true, entries: 2, firstInvalidId: null });
    expect(server.requests.slice(1).map((r) => r.headers.authorization)).toEqual(['Bearer sk_admin', 'Bearer sk_admin']);
  });
});

describe('SesameClient.refresh', () => {
  it('trades a refresh token for new tokens without sending a credential', async () => {
    const tokens = { accessToken: 'at2', refreshToken: 'rt2', tokenType: 'Bearer', expiresIn: 900, principal: { id: 'pr_1' } };
    const server = await serve((req, res) => {
      if (req.url === '/api/v1/auth/refresh' && req.body.refreshToken === 'rt1') { json(res, 200, { data: tokens }); return; }
      json(res, 401, problem(401, 'unauthorized'));
    });
    await expect(SesameClient.refresh({ apiUrl: server.url, refreshToken: 'rt1' })).resolves.toEqual(tokens);
    expect(server.requests[0]).toMatchObject({ method: 'POST', body: { refreshToken: 'rt1' } });
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });
});
