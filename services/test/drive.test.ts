import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
