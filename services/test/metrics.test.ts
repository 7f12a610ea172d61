import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { TestSocket } from './support/ws-client.js';

describe('GET /metrics (Prometheus)', () => {
  let api: TestApi;
  let gateway: TestGateway;

  beforeAll(async () => {
    api = await startTestApi('pglite');
    gateway = await startTestGateway(api.ctx);
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });

  it('serves the request, send and realtime series without a credential, on the api and the gateway', async () => {
    const agent = await api.createAgent('metered');
    const channel = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'group', name: 'metered', memberIds: [] })).json().data;
    const { socket } = await TestSocket.auth(gateway.url, { apiKey: agent.apiKey });
    expect((await api.call(agent.apiKey, 'POST', `/channels/${channel.id}/messages`, { content: 'counted' })).statusCode).toBe(201);
    await socket.waitFor((f) => f.type === 'message');
    const res = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = res.body;
    expect(body).toMatch(/^sesame_http_requests_total\{edge="api",method="POST",route="\/api\/v1\/channels\/:id\/messages",status_code="201"\} [1-9]/m);
    expect(body).toMatch(/^sesame_message_send_duration_seconds_count [1-9]/m);
    expect(body).toMatch(/^sesame_message_batch_size_count [1-9]/m);
    expect(body).toMatch(/^sesame_events_published_total [1-9]/m);
    expect(body).toMatch(/^sesame_realtime_connections [1-9]/m);
    expect(body).toMatch(/^sesame_realtime_deliveries_total [1-9]/m);
    expect(body).toMatch(/^sesame_process_resident_memory_bytes /m);
    // Never an id or a key in a series.
    expect(body).not.toContain(agent.id);
    expect(body).not.toContain(channel.id);
    expect(body).not.toContain(agent.apiKey);
    socket.close();
    const fromGateway = await fetch(`${gateway.httpUrl}/metrics`);
    expect(fromGateway.status).toBe(200);
    expect(await fromGateway.text()).toContain('sesame_realtime_connections');
  });

  it('is absent with SESAME_METRICS=off', async () => {
    const off = await startTestApi('pglite', { SESAME_METRICS: 'off' });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    } finally {
      await off.close();
    }
  });
});
