import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

ed.etc.sha512Sync = (...m) => sha512(ed.etc.concatBytes(...m));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function keyPair() {
  const privateKey = ed.utils.randomPrivateKey();
  return { privateKey, publicKey: b64(ed.getPublicKey(privateKey)) };
}

describe.each(targets())('authentication on %s', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target); });
  afterAll(() => api?.close());

  it('accepts the bootstrap key via Bearer and X-API-Key, and reports setup complete', async () => {
    const viaBearer = await api.call(api.adminKey, 'GET', '/auth/me');
    expect(viaBearer.statusCode).toBe(200);
    expect(viaBearer.json().data).toMatchObject({ handle: 'admin', isAdmin: true });
    const viaHeader = await api.call(null, 'GET', '/auth/me', undefined, { 'x-api-key': api.adminKey });
    expect(viaHeader.json().data.id).toBe(viaBearer.json().data.id);
    const setup = await api.call(null, 'GET', '/setup/status');
    expect(setup.json()).toEqual({ setupComplete: true, hasAdmin: true });
    const health = await api.call(null, 'GET', '/health');
    expect(health.json()).toMatchObject({ status: 'healthy' });
  });

  it('keeps setup complete but reports no admin once every admin is disabled', async () => {
    const admins = await api.ctx.db.selectFrom('principals').select('id').where('is_admin', '=', true).where('disabled_at', 'is', null).execute();
    const ids = admins.map((a) => a.id);
    await api.ctx.db.updateTable('principals').set({ disabled_at: new Date() }).where('id', 'in', ids).execute();
    try {
      const setup = await api.call(null, 'GET', '/setup/status');
      expect(setup.json()).toEqual({ setupComplete: true, hasAdmin: false });
    } finally {
      await api.ctx.db.updateTable('principals').set({ disabled_at: null }).where('id', 'in', ids).execute();
    }
  });

  it('answers 401 Problem Details for missing, unknown and malformed credentials', async () => {
    for (const key of [null, 'sk_not_a_real_key_at_all_000000', 'garbage.jwt.token']) {
      const res = await api.call(key, 'GET', '/channels');
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ type: 'urn:sesame:error:unauthorized', status: 401 });
      expect(res.body).not.toContain('sk_not_a_real_key');
    }
  });

  it('creates agents (admin only) with a key shown once, and refuses duplicates', async () => {
    const agent = await api.createAgent('worker-1', { displayName: 'Worker One' });
    expect(agent.apiKey).toMatch(/^sk_/);
    const me = await api.call(agent.apiKey, 'GET', '/auth/me');
    expect(me.json().data).toMatchObject({ handle: 'worker-1', displayName: 'Worker One', kind: 'agent', isAdmin: false });
    expect((await api.call(agent.apiKey, 'POST', '/agents', { handle: 'sneaky' })).statusCode).toBe(403);
    const dup = await api.call(api.adminKey, 'POST', '/agents', { handle: 'worker-1' });
    expect(dup.statusCode).toBe(409);
    const list = await api.call(api.adminKey, 'GET', `/keys?principalId=${agent.id}`);
    expect(list.json().data).toHaveLength(1);
    expect(JSON.stringify(list.json())).not.toContain(agent.apiKey);
    expect(list.json().data[0].prefix).toBe(agent.apiKey.slice(0, 10));
  });

  it('revokes keys immediately and rejects expired keys', async () => {
    const agent = await api.createAgent('revokee');
    const created = await api.call(agent.apiKey, 'POST', '/keys', { name: 'second' });
    expect(created.statusCode).toBe(201);
    const { key, apiKey } = created.json().data;
    expect((await api.call(apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    expect((await api.call(agent.apiKey, 'DELETE', `/keys/${key.id}`)).json().data.revokedAt).not.toBeNull();
    expect((await api.call(apiKey, 'GET', '/auth/me')).statusCode).toBe(401);

    const soon = new Date(Date.now() + 1500).toISOString();
    const expiring = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'short', expiresAt: soon })).json().data.apiKey;
    expect((await api.call(expiring, 'GET', '/auth/me')).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1700));
    expect((await api.call(expiring, 'GET', '/auth/me')).statusCode).toBe(401);
    const past = await api.call(agent.apiKey, 'POST', '/keys', { name: 'past', expiresAt: '2001-01-01T00:00:00Z' });
    expect(past.statusCode).toBe(422);
  });

  it('answers every request of a keep-alive connection as its own key: switched keys, and a key revoked mid-connection', async () => {
    const agent = await api.createAgent('keepalive');
    const other = await api.createAgent('keepalive-other');
    const { key, apiKey } = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'connection' })).json().data;
    const base = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const pool = new http.Agent({ keepAlive: true, maxSockets: 1 });
    onTestFinished(() => { pool.destroy(); });
    const sockets = new Set<unknown>();
    const me = (headers: Record<string, string>) => new Promise<{ status: number; id?: string }>((resolve, reject) => {
      http.get(`${base}/api/v1/auth/me`, { agent: pool, headers }, (res) => {
        sockets.add(res.socket);
        let body = '';
        res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, id: res.statusCode === 200 ? (JSON.parse(body) as { data: { id: string } }).data.id : undefined }); });
      }).on('error', reject);
    });
    expect(await me({ authorization: `Bearer ${apiKey}` })).toEqual({ status: 200, id: agent.id });
    expect(await me({ authorization: `Bearer ${other.apiKey}` })).toEqual({ status: 200, id: other.id });
    expect(await me({ 'x-api-key': apiKey, authorization: `Bearer ${other.apiKey}` })).toEqual({ status: 200, id: agent.id });
    expect(await me({ authorization: `Bearer ${apiKey}` })).toEqual({ status: 200, id: agent.id });
    expect(await me({ authorization: 'Bearer sk_not-a-key' })).toEqual({ status: 401 });
    expect(await me({})).toEqual({ status: 401 });
    expect(await me({ authorization: `Bearer ${apiKey}` })).toEqual({ status: 200, id: agent.id });
    expect((await api.call(agent.apiKey, 'DELETE', `/keys/${key.id}`)).statusCode).toBe(200);
    expect(await me({ authorization: `Bearer ${apiKey}` })).toEqual({ status: 401 });
    expect(sockets.size).toBe(1);
  });

  it('enforces key scopes: a read key cannot post', async () => {
    const agent = await api.createAgent('reader');
    const channel = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'channel', name: 'scoped', memberIds: [] })).json().data;
    const readKey = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'ro', scopes: ['read'] })).json().data.apiKey;
    expect((await api.call(readKey, 'GET', `/channels/${channel.id}/messages`)).statusCode).toBe(200);
    const post = await api.call(readKey, 'POST', `/channels/${channel.id}/messages`, { content: 'nope' });
    expect(post.statusCode).toBe(403);
    expect((await api.call(agent.apiKey, 'POST', '/keys', { name: 'adm', scopes: ['admin'] })).statusCode).toBe(403);
  });

  it('runs Ed25519 challenge–response: single-use nonces, bound to the handle, refresh rotates', async () => {
    const { privateKey, publicKey } = keyPair();
    await api.createAgent('signer', { publicKey });
    const challenge = async () => (await api.call(null, 'POST', '/auth/challenge', { handle: 'signer' })).json().data.nonce as string;
    const sign = (nonce: string, handle = 'signer', key = privateKey) => b64(ed.sign(new TextEncoder().encode(`sesame-auth:${handle}:${nonce}`), key));

    const nonce = await challenge();
    const verified = await api.call(null, 'POST', '/auth/verify', { handle: 'signer', nonce, signature: sign(nonce) });
    expect(verified.statusCode).toBe(200);
    const tokens = verified.json().data;
    expect(tokens).toMatchObject({ tokenType: 'Bearer', principal: { handle: 'signer', kind: 'agent' } });
    expect((await api.call(tokens.accessToken, 'GET', '/auth/me')).json().data.handle).toBe('signer');

    const replay = await api.call(null, 'POST', '/auth/verify', { handle: 'signer', nonce, signature: sign(nonce) });
    expect(replay.statusCode).toBe(401);
    const nonce2 = await challenge();
    const wrongKey = keyPair().privateKey;
    expect((await api.call(null, 'POST', '/auth/verify', { handle: 'signer', nonce: nonce2, signature: sign(nonce2, 'signer', wrongKey) })).statusCode).toBe(401);
    // The failed attempt consumed the nonce too: no grinding one nonce.
    expect((await api.call(null, 'POST', '/auth/verify', { handle: 'signer', nonce: nonce2, signature: sign(nonce2) })).statusCode).toBe(401);
    const nonce3 = await challenge();
    expect((await api.call(null, 'POST', '/auth/verify', { handle: 'signer', nonce: nonce3, signature: sign(nonce3, 'other') })).statusCode).toBe(401);

    const refreshed = await api.call(null, 'POST', '/auth/refresh', { refreshToken: tokens.refreshToken });
    expect(refreshed.statusCode).toBe(200);
    expect(refreshed.json().data.refreshToken).not.toBe(tokens.refreshToken);
    expect((await api.call(null, 'POST', '/auth/refresh', { refreshToken: tokens.refreshToken })).statusCode).toBe(401);

    // Unknown handles get a nonce too (no enumeration) but can never verify.
    const ghost = (await api.call(null, 'POST', '/auth/challenge', { handle: 'ghost' })).json().data.nonce;
    expect((await api.call(null, 'POST', '/auth/verify', { handle: 'ghost', nonce: ghost, signature: sign(ghost, 'ghost') })).statusCode).toBe(401);
  });

  it('signs humans up into their own workspace and logs them in with a password', async () => {
    // Signup after setup is an opt-in (SESAME_ALLOW_SIGNUP=true) for multi-tenant servers.
    const api = await startTestApi(target, { SESAME_ALLOW_SIGNUP: 'true' });
    onTestFinished(() => api.close());
    const email = `human-${target}@example.com`;
    const signup = await api.call(null, 'POST', '/auth/signup', { email, password: 'a long enough secret', displayName: 'Hu Man' });
    expect(signup.statusCode).toBe(201);
    expect(signup.json().data.principal).toMatchObject({ kind: 'human', isAdmin: true });
    // Emails are unique per workspace: a second signup makes another workspace and never says
    // whether the email exists elsewhere (it used to answer 409, which enumerated emails).
    const again = await api.call(null, 'POST', '/auth/signup', { email, password: 'another secret!', displayName: 'Dup' });
    expect(again.statusCode).toBe(201);
    expect(again.json().data.principal.workspaceId).not.toBe(signup.json().data.principal.workspaceId);
    const login = await api.call(null, 'POST', '/auth/login', { email, password: 'a long enough secret' });
    expect(login.statusCode).toBe(200);
    const me = await api.call(login.json().data.accessToken, 'GET', '/auth/me');
    expect(me.json().data.workspaceId).toBe(signup.json().data.principal.workspaceId);
    expect(me.json().data.workspaceId).not.toBe((await api.call(api.adminKey, 'GET', '/auth/me')).json().data.workspaceId);
    const wrong = await api.call(null, 'POST', '/auth/login', { email, password: 'wrong password' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('wrong password');
  });

  it('rate-limits per key with 429 Problem Details and Retry-After', async () => {
    const agent = await api.createAgent('chatty');
    const limited = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'tight', rateLimitPerMinute: 3 })).json().data.apiKey;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await api.call(limited, 'GET', '/auth/me')).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const res = await api.call(limited, 'GET', '/auth/me');
    expect(res.json()).toMatchObject({ type: 'urn:sesame:error:rate-limited', status: 429 });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    // Another key of the same principal has its own budget.
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
  });
});

describe.each(targets())('Ed25519 key checks and refresh token families on %s', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target); });
  afterAll(() => api?.close());

  // Auth endpoints are limited per client address, and on Redis the counters are shared with
  // every test running at the same time: each test here speaks from its own loopback address.
  const from = (remoteAddress: string) => async (url: string, payload: unknown) => {
    const res = await api.app.inject({ method: 'POST', url: `/api/v1${url}`, payload: payload as Record<string, unknown>, remoteAddress });
    return { statusCode: res.statusCode, data: res.statusCode < 300 ? res.json().data : undefined };
  };

  it('rejects an all-zero public key, the other small-order points and a non-canonical encoding at registration', async () => {
    const weakKeys = [
      Buffer.alloc(32).toString('base64'),
      '0100000000000000000000000000000000000000000000000000000000000000',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    ];
    for (const [i, publicKey] of weakKeys.entries()) {
      const res = await api.call(api.adminKey, 'POST', '/agents', { handle: `weak-key-${i}`, publicKey });
      expect(res.statusCode, publicKey).toBe(422);
      expect(res.json()).toMatchObject({ type: 'urn:sesame:error:unprocessable-entity', detail: expect.stringMatching(/^publicKey: /) });
    }
    expect((await api.call(api.adminKey, 'POST', '/agents', { handle: 'strong-key', publicKey: keyPair().publicKey })).statusCode).toBe(201);
  });

  it('refuses a forged signature at the challenge endpoint for a small-order key stored by an earlier version', async () => {
    const post = from('127.0.42.1');
    const agent = await api.createAgent('zero-key');
    await api.ctx.db.updateTable('principals').set({ public_key: Buffer.alloc(32).toString('base64') }).where('id', '=', agent.id).execute();
    // R = the identity point, S = 0: with the all-zero key, lax verification accepts it for any nonce.
    const forged = Buffer.from(Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? 1 : 0))).toString('base64');
    for (let attempt = 0; attempt < 2; attempt++) {
      const { nonce } = (await post('/auth/challenge', { handle: 'zero-key' })).data;
      expect((await post('/auth/verify', { handle: 'zero-key', nonce, signature: forged })).statusCode).toBe(401);
    }
  });

  async function loginHuman(post: ReturnType<typeof from>, handle: string) {
    const email = `${handle}-${target}@example.com`;
    expect((await api.call(api.adminKey, 'POST', '/humans', { email, password: 'a long enough secret', handle })).statusCode).toBe(201);
    const login = await post('/auth/login', { email, password: 'a long enough secret' });
    expect(login.statusCode).toBe(200);
    return { email, tokens: login.data as { accessToken: string; refreshToken: string } };
  }

  it('keeps a normal rotation chain working', async () => {
    const post = from('127.0.42.2');
    const { tokens } = await loginHuman(post, 'rotator');
    let refreshToken = tokens.refreshToken;
    for (let i = 0; i < 4; i++) {
      const next = await post('/auth/refresh', { refreshToken });
      expect(next.statusCode).toBe(200);
      expect(next.data.refreshToken).not.toBe(refreshToken);
      expect((await api.call(next.data.accessToken, 'GET', '/auth/me')).json().data.handle).toBe('rotator');
      refreshToken = next.data.refreshToken;
    }
  });

  it('revokes the whole token family when a rotated refresh token is reused, and only that family', async () => {
    const post = from('127.0.42.3');
    const { email, tokens } = await loginHuman(post, 'victim');
    const otherDevice = (await post('/auth/login', { email, password: 'a long enough secret' })).data.refreshToken as string;
    const tokenA = tokens.refreshToken;
    const rotated = await post('/auth/refresh', { refreshToken: tokenA });
    expect(rotated.statusCode).toBe(200);
    const tokenB = rotated.data.refreshToken as string;

    expect((await post('/auth/refresh', { refreshToken: tokenA })).statusCode).toBe(401);
    // The reuse gave A's family away: B, descended from the same login, is dead too.
    expect((await post('/auth/refresh', { refreshToken: tokenB })).statusCode).toBe(401);
    // Another login is another family and keeps working.
    expect((await post('/auth/refresh', { refreshToken: otherDevice })).statusCode).toBe(200);

    const audit = (await api.call(api.adminKey, 'GET', '/audit?action=auth.refresh_token_reused')).json().data;
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(tokenA);
  });
});

describe('auth endpoint rate limit', () => {
  it('allows 10 attempts per minute per client, then 429', async () => {
    const api = await startTestApi('pglite');
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await api.call(null, 'POST', '/auth/login', { email: 'x@example.com', password: 'whatever!' })).statusCode);
      expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(10)).toEqual([429, 429]);
    } finally {
      await api.close();
    }
  });
});
