import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

describe.each(targets())('drive files and attachments on %s', (target) => {
  let api: TestApi;
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  let carol: { id: string; apiKey: string };
  let dmId: string;
  beforeAll(async () => {
    api = await startTestApi(target);
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    carol = await api.createAgent('carol');
    dmId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'dm', memberIds: [bob.id] })).json().data.id;
  });
  afterAll(() => api?.close());

  async function upload(bytes: Buffer, fileName = 'report.txt') {
    const reserved = await api.call(alice.apiKey, 'POST', '/drive/files/upload-url', { fileName, contentType: 'text/plain', size: bytes.length });
    expect(reserved.statusCode).toBe(200);
    const { uploadUrl, fileId, s3Key } = reserved.json().data;
    const url = new URL(uploadUrl);
    const put = await api.app.inject({ method: 'PUT', url: url.pathname + url.search, payload: bytes, headers: { 'content-type': 'application/octet-stream' } });
    return { fileId, s3Key, put, url };
  }

  it('uploads, registers and attaches a file that channel members can download', async () => {
    const bytes = Buffer.from('quarterly numbers\n');
    const { fileId, s3Key, put } = await upload(bytes);
    expect(put.statusCode).toBe(200);
    const registered = await api.call(alice.apiKey, 'POST', '/drive/files', { fileId, s3Key, fileName: 'report.txt', contentType: 'text/plain', size: bytes.length });
    expect(registered.statusCode).toBe(201);
    const sent = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'see attached', kind: 'attachment', attachmentIds: [fileId] });
    expect(sent.statusCode).toBe(201);
    const [attachment] = sent.json().data.metadata.attachments;
    expect(attachment).toMatchObject({ id: fileId, fileName: 'report.txt', contentType: 'text/plain' });
    const download = new URL(attachment.downloadUrl);
    const asBob = await api.app.inject({ method: 'GET', url: download.pathname, headers: { authorization: `Bearer ${bob.apiKey}` } });
    expect(asBob.statusCode).toBe(200);
    expect(asBob.body).toBe('quarterly numbers\n');
    const asCarol = await api.app.inject({ method: 'GET', url: download.pathname, headers: { authorization: `Bearer ${carol.apiKey}` } });
    expect(asCarol.statusCode).toBe(404);
  });

  it('rejects bad uploads: wrong token, oversize body, size mismatch, unregistered attachments', async () => {
    const { fileId, url } = await upload(Buffer.from('12345'));
    const forged = await api.app.inject({ method: 'PUT', url: `${url.pathname}?token=forged`, payload: Buffer.from('12345') });
    expect(forged.statusCode).toBe(401);
    const other = await upload(Buffer.from('abc'));
    const swapped = await api.app.inject({ method: 'PUT', url: `${other.url.pathname}${url.search}`, payload: Buffer.from('abc') });
    expect(swapped.statusCode).toBe(401);
    const tooBig = await api.app.inject({ method: 'PUT', url: url.pathname + url.search, payload: Buffer.from('1234567890') });
    expect(tooBig.statusCode).toBe(413);
    const reserved = (await api.call(alice.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'a.bin', contentType: 'application/octet-stream', size: 10 })).json().data;
    const short = new URL(reserved.uploadUrl);
    expect((await api.app.inject({ method: 'PUT', url: short.pathname + short.search, payload: Buffer.from('123') })).statusCode).toBe(422);
    const unregistered = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'x', kind: 'attachment', attachmentIds: [fileId] });
    expect(unregistered.statusCode).toBe(422);
    expect((await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'x', kind: 'attachment' })).statusCode).toBe(400);
    expect((await api.call(alice.apiKey, 'POST', '/drive/files/upload-url', { fileName: '../etc/passwd', contentType: 'text/plain', size: 1 })).statusCode).toBe(400);
    expect((await api.call(alice.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'huge', contentType: 'text/plain', size: 1e12 })).statusCode).toBe(413);
  });
  async function registered(bytes: Buffer, fileName = 'notes.txt') {
    const { fileId, s3Key, put } = await upload(bytes, fileName);
    expect(put.statusCode).toBe(200);
    const res = await api.call(alice.apiKey, 'POST', '/drive/files', { fileId, s3Key, fileName, contentType: 'text/plain', size: bytes.length, channelId: dmId });
    expect(res.statusCode).toBe(201);
    return res.json().data as { id: string; downloadUrl: string };
  }
  const plainGet = (url: string) => { const u = new URL(url); return api.app.inject({ method: 'GET', url: u.pathname + u.search }); };
  const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;
  const expiryOf = (url: string) => JSON.parse(Buffer.from(tokenOf(url).split('.')[1], 'base64url').toString()).exp as number;
  /** Runs `work` with the clock set `secondsAgo` in the past (only Date; timers keep running). */
  async function inThePast<T>(secondsAgo: number, work: () => Promise<T>): Promise<T> {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - secondsAgo * 1000);
    try { return await work(); } finally { vi.useRealTimers(); }
  }

  it('a downloadUrl works with a plain GET and no credential, like a presigned URL', async () => {
    const file = await registered(Buffer.from('signed bytes'));
    const res = await plainGet(file.downloadUrl);
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('signed bytes');
    const fromMetadata = (await api.call(bob.apiKey, 'GET', `/drive/files/${file.id}`)).json().data.downloadUrl;
    expect((await plainGet(fromMetadata)).body).toBe('signed bytes');
    const sent = (await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'here', kind: 'attachment', attachmentIds: [file.id] })).json().data;
    expect((await plainGet(sent.metadata.attachments[0].downloadUrl)).body).toBe('signed bytes');
    // A member's credential still opens the bare path.
    const bare = new URL(file.downloadUrl).pathname;
    expect((await api.app.inject({ method: 'GET', url: bare, headers: { authorization: `Bearer ${bob.apiKey}` } })).statusCode).toBe(200);
  });

  it('a download without a valid token for that very file is a 401: missing, tampered, expired, another file\'s, an upload token', async () => {
    const a = await registered(Buffer.from('file A'), 'a.txt');
    const b = await registered(Buffer.from('file B'), 'b.txt');
    const path = (id: string) => `/api/v1/drive/files/${id}/content`;
    const expectUnauthorized = async (url: string) => {
      const res = await api.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.body).not.toContain('file A');
    };
    await expectUnauthorized(path(a.id));
    const token = tokenOf(a.downloadUrl);
    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    await expectUnauthorized(`${path(a.id)}?token=${encodeURIComponent(tampered)}`);
    await expectUnauthorized(`${path(b.id)}?token=${encodeURIComponent(token)}`);
    const uploadToken = await api.ctx.tokens.signCapability('upload', a.id, 600);
    await expectUnauthorized(`${path(a.id)}?token=${encodeURIComponent(uploadToken)}`);
    const expired = await inThePast(2 * api.ctx.config.SESAME_DOWNLOAD_URL_TTL_SECONDS, () => api.ctx.tokens.signCapability('download', a.id, api.ctx.config.SESAME_DOWNLOAD_URL_TTL_SECONDS));
    await expectUnauthorized(`${path(a.id)}?token=${encodeURIComponent(expired)}`);
    // The same token, in date, opens A: the failures above are the token's, not the route's.
    expect((await api.app.inject({ method: 'GET', url: `${path(a.id)}?token=${encodeURIComponent(token)}` })).body).toBe('file A');
    // A download token is no access token.
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
  });

  it('reading a message or file signs a fresh downloadUrl, so a stored link past its TTL is renewed', async () => {
    const ttl = api.ctx.config.SESAME_DOWNLOAD_URL_TTL_SECONDS;
    const file = await registered(Buffer.from('old attachment'));
    const old = await inThePast(2 * ttl, async () =>
      (await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'old', kind: 'attachment', attachmentIds: [file.id] })).json().data);
    const stored = old.metadata.attachments[0].downloadUrl;
    expect((await plainGet(stored)).statusCode).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const one = (await api.call(bob.apiKey, 'GET', `/channels/${dmId}/messages/${old.id}`)).json().data.metadata.attachments[0].downloadUrl;
    const history = (await api.call(bob.apiKey, 'GET', `/channels/${dmId}/messages?limit=200`)).json().data.find((m: any) => m.id === old.id).metadata.attachments[0].downloadUrl;
    const metadata = (await api.call(bob.apiKey, 'GET', `/drive/files/${file.id}`)).json().data.downloadUrl;
    for (const url of [one, history, metadata]) {
      expect(expiryOf(url)).toBeGreaterThanOrEqual(now + ttl - 5);
      expect((await plainGet(url)).body).toBe('old attachment');
    }
  });

  it('links are built from the configured public URL, never from Host or X-Forwarded-Host', async () => {
    const forged = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    const reserved = await api.call(alice.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'x.txt', contentType: 'text/plain', size: 1 }, forged);
    expect(new URL(reserved.json().data.uploadUrl).origin).toBe('http://127.0.0.1:13531');
    const file = await registered(Buffer.from('x'));
    for (const url of [
      (await api.call(bob.apiKey, 'GET', `/drive/files/${file.id}`, undefined, forged)).json().data.downloadUrl,
      (await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'f', kind: 'attachment', attachmentIds: [file.id] }, forged)).json().data.metadata.attachments[0].downloadUrl,
    ]) expect(new URL(url).origin).toBe('http://127.0.0.1:13531');

    const behindProxy = await startTestApi(target, { SESAME_PUBLIC_URL: 'https://sesame.example.com/' });
    try {
      const agent = await behindProxy.createAgent('proxied');
      const res = await behindProxy.call(agent.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'x.txt', contentType: 'text/plain', size: 1 }, forged);
      expect(res.json().data.uploadUrl).toMatch(/^https:\/\/sesame\.example\.com\/api\/v1\/drive\/uploads\//);
    } finally {
      await behindProxy.close();
    }
  });

  it('a listening api without a configured public URL links to its own address', async () => {
    const listening = await startTestApi(target, { HOST: '0.0.0.0' });
    try {
      const agent = await listening.createAgent('listener');
      // Not listening yet: HOST:PORT from the configuration, 0.0.0.0 reached as 127.0.0.1.
      const before = await listening.call(agent.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'x.txt', contentType: 'text/plain', size: 1 });
      expect(new URL(before.json().data.uploadUrl).origin).toBe('http://127.0.0.1:13531');
      const address = await listening.app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`${address}/api/v1/drive/files/upload-url`, {
        method: 'POST', body: JSON.stringify({ fileName: 'x.txt', contentType: 'text/plain', size: 1 }),
        headers: { authorization: `Bearer ${agent.apiKey}`, 'content-type': 'application/json', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      });
      expect(new URL(((await res.json()) as { data: { uploadUrl: string } }).data.uploadUrl).origin).toBe(address);
    } finally {
      await listening.close();
    }
  });
});
