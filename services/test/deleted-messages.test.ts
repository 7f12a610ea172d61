import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSseCursor } from '../src/gateway/event-stream.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { TestEventStream } from './support/sse-client.js';
import { targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

describe.each(targets())('deleted messages leave no text behind on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  let channelId: string;

  beforeAll(async () => {
    api = await startTestApi(target);
    gateway = await startTestGateway(api.ctx);
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    channelId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'redaction', memberIds: [bob.id] })).json().data.id;
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });

  it('a delete redacts the text of every stored event of the message, for REST, WebSocket and SSE replay', async () => {
    const original = `original-${randomBytes(6).toString('hex')}`;
    const edited = `edited-${randomBytes(6).toString('hex')}`;
    const thought = `thought-${randomBytes(6).toString('hex')}`;
    const sent = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/messages`, { content: original, kind: 'thinking', metadata: { thinkingText: thought } });
    expect(sent.statusCode).toBe(201);
    const id = sent.json().data.id;
    expect((await api.call(alice.apiKey, 'PATCH', `/channels/${channelId}/messages/${id}`, { content: edited, streaming: true })).statusCode).toBe(200);
    expect((await api.call(alice.apiKey, 'PATCH', `/channels/${channelId}/messages/${id}`, { content: `${edited} done` })).statusCode).toBe(200);
    const kept = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'unrelated stays' });

    const before = JSON.stringify((await api.call(bob.apiKey, 'GET', `/streams/${channelId}/events?after=0`)).json().data);
    expect(before).toContain(original);
    expect(before).toContain(edited);

    expect((await api.call(alice.apiKey, 'DELETE', `/channels/${channelId}/messages/${id}`)).statusCode).toBe(200);
    const traces = (text: string) => [original, edited, thought].filter((secret) => text.includes(secret));

    // REST replay: every event of the message is still there (seq stays gapless), without text.
    const events = (await api.call(bob.apiKey, 'GET', `/streams/${channelId}/events?after=0`)).json().data as { type: string; seq: number; data: any }[];
    expect(traces(JSON.stringify(events))).toEqual([]);
    const ofMessage = events.filter((e) => e.data?.id === id);
    expect(ofMessage.map((e) => e.type)).toEqual(['message', 'message.updated', 'message.updated', 'message.deleted']);
    for (const event of ofMessage.slice(0, 3)) {
      expect(event.data.content).toBe('');
      expect(event.data.metadata).toMatchObject({ senderHandle: 'alice', attachments: [] });
    }
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.find((e) => e.data?.id === kept.json().data.id)?.data.content).toBe('unrelated stays');
    expect(traces((await api.call(bob.apiKey, 'GET', `/channels/${channelId}/messages`)).body)).toEqual([]);
    expect(traces((await api.call(bob.apiKey, 'GET', `/channels/${channelId}/messages/${id}`)).body)).toEqual([]);

    // WebSocket replay from the start of the channel.
    const { socket } = await TestSocket.auth(gateway.url, { apiKey: bob.apiKey, cursors: { [channelId]: 0 } });
    try {
      await socket.waitFor((f) => f.type === 'message.deleted' && f.stream === channelId);
      expect(socket.frames.filter((f) => f.stream === channelId && f.type === 'message').length).toBeGreaterThanOrEqual(2);
      expect(traces(JSON.stringify(socket.frames))).toEqual([]);
    } finally {
      socket.ws.close();
    }

    // SSE replay from the start of the channel.
    const stream = await TestEventStream.open(`${gateway.httpUrl}/api/v1/events`, {
      authorization: `Bearer ${bob.apiKey}`, 'last-event-id': encodeSseCursor({ [channelId]: 0 }),
    });
    try {
      await stream.waitFor((e) => e.event === 'message.deleted');
      expect(traces(JSON.stringify(stream.events))).toEqual([]);
    } finally {
      await stream.close();
    }
  });
});
