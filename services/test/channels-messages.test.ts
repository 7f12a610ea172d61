import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

describe.each(targets())('channels and messages on %s', (target) => {
  let api: TestApi;
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  let carol: { id: string; apiKey: string };
  let dmId: string;

  beforeAll(async () => {
    // Eve signs up into a workspace of her own below: a multi-tenant server's opt-in.
    api = await startTestApi(target, { SESAME_ALLOW_SIGNUP: 'true' });
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    carol = await api.createAgent('carol');
  });
  afterAll(() => api?.close());

  it('creates a DM once: asking again, from either side, returns the same channel', async () => {
    const first = await api.call(alice.apiKey, 'POST', '/channels', { kind: 'dm', memberIds: [bob.id] });
    expect(first.statusCode).toBe(201);
    dmId = first.json().data.id;
    expect(first.json().data.memberIds.sort()).toEqual([alice.id, bob.id].sort());
    const again = await api.call(bob.apiKey, 'POST', '/channels', { kind: 'dm', memberIds: [alice.id] });
    expect(again.statusCode).toBe(200);
    expect(again.json().data.id).toBe(dmId);
  });

  it('creates a DM once under concurrent requests', async () => {
    const dave = await api.createAgent('dave');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      api.call(i % 2 ? dave.apiKey : carol.apiKey, 'POST', '/channels', { kind: 'dm', memberIds: [i % 2 ? carol.id : dave.id] })));
    const ids = new Set(results.map((r) => r.json().data.id));
    expect(results.every((r) => r.statusCode === 200 || r.statusCode === 201)).toBe(true);
    expect(ids.size).toBe(1);
  });

  it('lists only the caller\'s channels and gets one with kind and name', async () => {
    const list = await api.call(alice.apiKey, 'GET', '/channels');
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((c: { id: string }) => c.id)).toContain(dmId);
    const carols = await api.call(carol.apiKey, 'GET', '/channels');
    expect(carols.json().data.map((c: { id: string }) => c.id)).not.toContain(dmId);
    const one = await api.call(alice.apiKey, 'GET', `/channels/${dmId}`);
    expect(one.json().data).toMatchObject({ id: dmId, kind: 'dm', name: null });
  });

  it('exchanges messages in wire-compatible shape with metadata about the sender', async () => {
    const sent = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'hello bob', kind: 'text' });
    expect(sent.statusCode).toBe(201);
    const msg = sent.json().data;
    expect(msg).toMatchObject({ channelId: dmId, senderId: alice.id, content: 'hello bob', kind: 'text', threadRootId: null });
    expect(msg.metadata).toMatchObject({ senderHandle: 'alice', senderDisplayName: 'alice', senderKind: 'agent', attachments: [] });
    expect(typeof msg.seq).toBe('number');
    const reply = await api.call(bob.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'hi alice', threadRootId: msg.id });
    expect(reply.json().data.threadRootId).toBe(msg.id);
    expect(reply.json().data.seq).toBeGreaterThan(msg.seq);
  });

  it('keeps non-members out (403) and other workspaces blind (404)', async () => {
    expect((await api.call(carol.apiKey, 'GET', `/channels/${dmId}/messages`)).statusCode).toBe(403);
    expect((await api.call(carol.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'let me in' })).statusCode).toBe(403);
    expect((await api.call(carol.apiKey, 'GET', `/channels/${dmId}`)).statusCode).toBe(403);

    const signup = await api.call(null, 'POST', '/auth/signup', { email: `eve-${target}@example.com`, password: 'correct horse battery', displayName: 'Eve' });
    expect(signup.statusCode).toBe(201);
    const eveToken = signup.json().data.accessToken;
    for (const [method, url, body] of [
      ['GET', `/channels/${dmId}`], ['GET', `/channels/${dmId}/messages`], ['POST', `/channels/${dmId}/messages`, { content: 'x' }],
      ['GET', `/principals/${alice.id}`], ['POST', `/channels/${dmId}/members`, { principalId: alice.id }],
      ['GET', `/streams/${dmId}/events`],
    ] as const) {
      const res = await api.call(eveToken, method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    // Foreign principals cannot be pulled into a channel either.
    const foreign = await api.call(eveToken, 'POST', '/channels', { kind: 'dm', memberIds: [alice.id] });
    expect(foreign.statusCode).toBe(422);
    // The foreign admin's key listing does not include our keys.
    const keys = await api.call(eveToken, 'GET', `/keys?principalId=${alice.id}`);
    expect(keys.statusCode === 200 ? keys.json().data : []).toEqual([]);
  });

  it('pages through history before and after a cursor, without overlap or holes', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'paging', memberIds: [bob.id] })).json().data;
    const sent: number[] = [];
    for (let i = 0; i < 25; i++) {
      sent.push((await api.call(i % 2 ? bob.apiKey : alice.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: `m${i}` })).json().data.seq);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await api.call(bob.apiKey, 'GET', `/channels/${channel.id}/messages?limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode).toBe(200);
      const body = page.json();
      const seqs = body.data.map((m: { seq: number }) => m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      seen.unshift(...body.data.map((m: { content: string }) => m.content));
      cursor = body.pagination.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));

    const after = await api.call(bob.apiKey, 'GET', `/channels/${channel.id}/messages?after=${sent[19]}&limit=3`);
    expect(after.json().data.map((m: { content: string }) => m.content)).toEqual(['m20', 'm21', 'm22']);
    const next = await api.call(bob.apiKey, 'GET', `/channels/${channel.id}/messages?cursor=${after.json().pagination.nextCursor}`);
    expect(next.json().data.map((m: { content: string }) => m.content)).toEqual(['m23', 'm24']);
    expect(next.json().pagination).toEqual({ hasMore: false, nextCursor: null });
  });

  it('edits (streaming) and tombstones messages, emitting events on the channel stream', async () => {
    const sent = (await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'draft' })).json().data;
    const streaming = await api.call(alice.apiKey, 'PATCH', `/channels/${dmId}/messages/${sent.id}`, { content: 'draft, more', streaming: true });
    expect(streaming.json().data).toMatchObject({ content: 'draft, more', streaming: true });
    expect(streaming.json().data.editedAt).not.toBeNull();
    expect((await api.call(bob.apiKey, 'PATCH', `/channels/${dmId}/messages/${sent.id}`, { content: 'hijack' })).statusCode).toBe(403);
    const done = await api.call(alice.apiKey, 'PATCH', `/channels/${dmId}/messages/${sent.id}`, { content: 'final' });
    expect(done.json().data).toMatchObject({ content: 'final', streaming: false });
    const deleted = await api.call(alice.apiKey, 'DELETE', `/channels/${dmId}/messages/${sent.id}`);
    expect(deleted.json().data).toMatchObject({ content: '', id: sent.id, seq: sent.seq });
    expect(deleted.json().data.deletedAt).not.toBeNull();

    const events = (await api.call(bob.apiKey, 'GET', `/streams/${dmId}/events?after=${sent.seq - 1}`)).json().data;
    expect(events.map((e: { type: string }) => e.type)).toEqual(['message', 'message.updated', 'message.updated', 'message.deleted']);
    expect(events[0].seq).toBe(sent.seq);
    expect(events.map((e: { seq: number }) => e.seq)).toEqual([sent.seq, sent.seq + 1, sent.seq + 2, sent.seq + 3]);
  });

  it('an idempotent send under concurrent retries yields exactly one message', async () => {
    const body = { content: 'exactly once', clientGeneratedId: `cg-${target}-1` };
    const results = await Promise.all(Array.from({ length: 12 }, () => api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, body)));
    const ids = new Set(results.map((r) => r.json().data.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.statusCode === 201)).toHaveLength(1);
    expect(results.filter((r) => r.statusCode === 200)).toHaveLength(11);
    const history = (await api.call(alice.apiKey, 'GET', `/channels/${dmId}/messages?limit=200`)).json().data;
    expect(history.filter((m: { content: string }) => m.content === 'exactly once')).toHaveLength(1);
    // Same id from another sender is a different message.
    const fromBob = await api.call(bob.apiKey, 'POST', `/channels/${dmId}/messages`, body);
    expect(fromBob.statusCode).toBe(201);
    expect(fromBob.json().data.id).not.toBe([...ids][0]);
  });

  it('keeps seq gapless and unique under concurrent senders', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'race', memberIds: [bob.id, carol.id] })).json().data;
    const senders = [alice, bob, carol];
    const before = (await api.call(alice.apiKey, 'GET', `/channels/${channel.id}`)).json().data.headSeq;
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      api.call(senders[i % 3].apiKey, 'POST', `/channels/${channel.id}/messages`, { content: `c${i}` })));
    expect(results.every((r) => r.statusCode === 201)).toBe(true);
    const seqs = results.map((r) => r.json().data.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => before + 1 + i));
    const events = (await api.call(alice.apiKey, 'GET', `/streams/${channel.id}/events?after=0&limit=1000`)).json().data;
    expect(events.map((e: { seq: number }) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
  });

  it('adds and removes members, with events on the channel and on the member\'s inbox', async () => {
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'channel', name: 'ops', memberIds: [] })).json().data;
    expect((await api.call(bob.apiKey, 'POST', `/channels/${channel.id}/members`, { principalId: bob.id })).statusCode).toBe(403);
    const added = await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/members`, { principalId: carol.id });
    expect(added.statusCode).toBe(201);
    expect((await api.call(alice.apiKey, 'POST', `/channels/${channel.id}/members`, { principalId: carol.id })).statusCode).toBe(409);
    expect((await api.call(carol.apiKey, 'GET', `/channels/${channel.id}/messages`)).statusCode).toBe(200);
    const inbox = (await api.call(carol.apiKey, 'GET', `/streams/inbox:${carol.id}/events`)).json().data;
    expect(inbox.at(-1)).toMatchObject({ type: 'channel.member_added', data: { channelId: channel.id, principalId: carol.id } });
    expect((await api.call(alice.apiKey, 'GET', `/streams/inbox:${carol.id}/events`)).statusCode).toBe(404);
    expect((await api.call(alice.apiKey, 'DELETE', `/channels/${channel.id}/members/${carol.id}`)).statusCode).toBe(204);
    expect((await api.call(carol.apiKey, 'GET', `/channels/${channel.id}/messages`)).statusCode).toBe(403);
    const members = (await api.call(alice.apiKey, 'GET', `/channels/${channel.id}/members`)).json().data;
    expect(members.map((m: { principalId: string; role: string }) => [m.principalId, m.role])).toEqual([[alice.id, 'owner']]);
  });

  it('records read receipts with the reader\'s emoji, only moving forward', async () => {
    expect((await api.call(bob.apiKey, 'PUT', '/profile/read-receipt-emoji', { emoji: '✅' })).statusCode).toBe(200);
    expect((await api.call(bob.apiKey, 'GET', '/profile/read-receipt-emoji')).json().data).toEqual({ emoji: '✅' });
    const head = (await api.call(bob.apiKey, 'GET', `/channels/${dmId}`)).json().data.headSeq;
    const read = await api.call(bob.apiKey, 'POST', `/channels/${dmId}/read`, { seq: head });
    expect(read.json().data).toMatchObject({ lastReadSeq: head, emoji: '✅', principalId: bob.id });
    const stale = await api.call(bob.apiKey, 'POST', `/channels/${dmId}/read`, { seq: 1 });
    expect(stale.json().data.lastReadSeq).toBe(head);
    expect((await api.call(bob.apiKey, 'POST', `/channels/${dmId}/read`, { seq: head + 1000 })).statusCode).toBe(422);
    const receipts = (await api.call(alice.apiKey, 'GET', `/channels/${dmId}/read-receipts`)).json().data;
    expect(receipts).toEqual([expect.objectContaining({ principalId: bob.id, emoji: '✅' })]);
  });

  it('validates structured message kinds against their metadata schema', async () => {
    const ok = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, {
      content: 'running tests', kind: 'tool_call', metadata: { toolCall: { callId: 'tc_1', name: 'bash', input: { cmd: 'npm test' }, state: 'running' } },
    });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().data.metadata.toolCall.name).toBe('bash');
    const missing = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'x', kind: 'tool_call', metadata: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().detail).toMatch(/toolCall/);
    const forged = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'x', metadata: { senderHandle: 'admin' } });
    expect(forged.statusCode).toBe(400);
    const unknownKind = await api.call(alice.apiKey, 'POST', `/channels/${dmId}/messages`, { content: 'x', kind: 'telepathy' });
    expect(unknownKind.statusCode).toBe(400);
  });

  it('gives an agent its manifest', async () => {
    const manifest = (await api.call(alice.apiKey, 'GET', '/manifest')).json().data;
    expect(manifest.agent).toMatchObject({ id: alice.id, handle: 'alice', kind: 'agent' });
    expect(manifest.channels.map((c: { id: string }) => c.id)).toContain(dmId);
    expect(manifest.workspace.id).toBe(manifest.agent.workspaceId);
    expect(manifest.capabilities).toEqual([]);
    expect(manifest.pendingWork).toEqual({ tasks: [], leaseRequests: [], overdueOccurrences: [] });
  });
});
