import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

describe.each(targets())('who may remove whom from a channel on %s', (target) => {
  let api: TestApi;
  let owner: { id: string; apiKey: string };
  let member: { id: string; apiKey: string };
  let admin: { id: string; apiKey: string };
  let otherAdmin: { id: string; apiKey: string };
  const members = async (channelId: string) => ((await api.call(owner.apiKey, 'GET', `/channels/${channelId}/members`)).json().data as { principalId: string }[]).map((m) => m.principalId);

  beforeAll(async () => {
    api = await startTestApi(target);
    owner = await api.createAgent('owner');
    member = await api.createAgent('member');
    admin = await api.createAgent('workspace-admin', { isAdmin: true });
    otherAdmin = await api.createAgent('other-admin', { isAdmin: true });
  });
  afterAll(() => api?.close());

  const channelWithEveryone = async () => {
    const res = await api.call(owner.apiKey, 'POST', '/channels', { kind: 'channel', name: 'owned', memberIds: [member.id, admin.id, otherAdmin.id] });
    expect(res.statusCode).toBe(201);
    return res.json().data.id as string;
  };

  it('a channel owner cannot remove a workspace admin, but can remove a plain member', async () => {
    const channelId = await channelWithEveryone();
    const res = await api.call(owner.apiKey, 'DELETE', `/channels/${channelId}/members/${admin.id}`);
    expect(res.statusCode).toBe(403);
    expect(res.json().type).toBe('urn:sesame:error:forbidden');
    expect(await members(channelId)).toContain(admin.id);
    expect((await api.call(owner.apiKey, 'DELETE', `/channels/${channelId}/members/${member.id}`)).statusCode).toBe(204);
    expect(await members(channelId)).not.toContain(member.id);
  });

  it('a workspace admin may remove another admin, and an admin may leave', async () => {
    const channelId = await channelWithEveryone();
    expect((await api.call(otherAdmin.apiKey, 'DELETE', `/channels/${channelId}/members/${admin.id}`)).statusCode).toBe(204);
    expect((await api.call(otherAdmin.apiKey, 'DELETE', `/channels/${channelId}/members/${otherAdmin.id}`)).statusCode).toBe(204);
    expect(await members(channelId)).toEqual(expect.not.arrayContaining([admin.id, otherAdmin.id]));
  });

  it('an admin acting through a key without the admin scope cannot remove another admin', async () => {
    const channelId = await channelWithEveryone();
    const writeKey = (await api.call(otherAdmin.apiKey, 'POST', '/keys', { name: 'write-only', scopes: ['write'] })).json().data.apiKey as string;
    expect((await api.call(writeKey, 'DELETE', `/channels/${channelId}/members/${admin.id}`)).statusCode).toBe(403);
    expect(await members(channelId)).toContain(admin.id);
  });
  it('an admin acting through a key without the admin scope manages only what its channel role allows', async () => {
    const channelId = await channelWithEveryone();
    const writeKey = (await api.call(otherAdmin.apiKey, 'POST', '/keys', { name: 'write-only-manage', scopes: ['write'] })).json().data.apiKey as string;
    // Not the owner: renaming, removing a plain member and deleting the owner's message are owner or admin powers.
    expect((await api.call(writeKey, 'PATCH', `/channels/${channelId}`, { name: 'renamed' })).statusCode).toBe(403);
    expect((await api.call(writeKey, 'DELETE', `/channels/${channelId}/members/${member.id}`)).statusCode).toBe(403);
    const message = (await api.call(owner.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'the owner speaks' })).json().data;
    expect((await api.call(writeKey, 'DELETE', `/channels/${channelId}/messages/${message.id}`)).statusCode).toBe(403);
    // The same admin with its full key may.
    expect((await api.call(otherAdmin.apiKey, 'PATCH', `/channels/${channelId}`, { name: 'renamed' })).statusCode).toBe(200);
    expect((await api.call(otherAdmin.apiKey, 'DELETE', `/channels/${channelId}/messages/${message.id}`)).statusCode).toBe(200);
  });
});
