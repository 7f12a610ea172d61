import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { eventStreamRoute } from '../src/gateway/event-stream-route.js';
import { decodeSseCursor } from '../src/gateway/event-stream.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { TestEventStream } from './support/sse-client.js';
import { targets } from './support/targets.js';

describe.each(targets())('SSE at /api/v1/events on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  let channelId: string;
  const streams: TestEventStream[] = [];

  const open = async (key: string, headers: Record<string, string> = {}, base = gateway.httpUrl) => {
    const stream = await TestEventStream.open(`${base}/api/v1/events`, { authorization: `Bearer ${key}`, ...headers });
    streams.push(stream);
    return stream;
  };
  const send = async (content: string) => (await api.call(alice.apiKey, 'POST', `/channels/${channelId}/messages`, { content })).json().data;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    gateway = await startTestGateway(api.ctx);
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    channelId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'group', name: 'sse', memberIds: [bob.id] })).json().data.id;
  });
  afterAll(async () => {
    for (const s of streams) await s.close();
    await gateway?.close();
    await api?.close();
  });

  it('refuses anonymous and bad credentials with Problem Details', async () => {
    const anonymous = await TestEventStream.open(`${gateway.httpUrl}/api/v1/events`, {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.events[0].data.type).toBe('urn:sesame:error:unauthorized');
    const bad = await open(bob.apiKey, { 'last-event-id': '%%%not-a-cursor' });
    expect(bad.status).toBe(400);
    expect(bad.events[0].data.type).toBe('urn:sesame:error:bad-request');
  });

  it('streams events with a cursor id, and Last-Event-ID resumes exactly where it stopped', async () => {
    const stream = await open(bob.apiKey);
    await stream.waitFor((e) => e.event === 'authenticated');
    const first = await send('sse one');
    const got = await stream.waitFor((e) => e.event === 'message' && e.data.message.id === first.id);
    expect(decodeSseCursor(got.id!)[channelId]).toBe(first.seq);
    await stream.close();
    const missed = [await send('sse two'), await send('sse three')];
    const resumed = await open(bob.apiKey, { 'last-event-id': got.id! });
    await resumed.waitFor((e) => e.event === 'message' && e.data.message.id === missed[1].id);
    const seqs = resumed.events.filter((e) => e.event === 'message').map((e) => e.data.seq);
    expect(seqs).toEqual(missed.map((m) => m.seq));
  });

  it('is also served by the api app when a gateway node shares the process', async () => {
    const app = await buildApp(api.ctx, { extraRoutes: [eventStreamRoute(gateway.node)] });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const stream = await open(bob.apiKey, {}, base);
      await stream.waitFor((e) => e.event === 'authenticated');
      const msg = await send('via api port');
      await stream.waitFor((e) => e.event === 'message' && e.data.message.id === msg.id);
      await stream.close();
    } finally {
      await app.close();
    }
  });
});
