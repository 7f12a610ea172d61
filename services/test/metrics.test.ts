import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveMetrics } from '../src/shared/metrics.js';
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
    // The event reached the gateway over the (in-process) bus: its lag was observed.
    expect(body).toMatch(/^sesame_bus_lag_seconds_count [1-9]/m);
    // Declared from the start, so dashboards and alerts find them before the first outage, webhook or lease.
    for (const series of ['sesame_bus_backlog', 'sesame_bus_publishes_dropped_total', 'sesame_realtime_presence_frames_total', 'sesame_realtime_slow_consumer_closes_total',
      'sesame_webhook_attempts_total', 'sesame_webhook_attempt_duration_seconds', 'sesame_webhook_deliveries_failed_total', 'sesame_webhooks_disabled_total',
      'sesame_vault_lease_transitions_total', 'sesame_db_pool_connections', 'sesame_db_pool_waiting']) expect(body).toContain(`# TYPE ${series} `);
    // Never an id or a key in a series.
    expect(body).not.toContain(agent.id);
    expect(body).not.toContain(channel.id);
    expect(body).not.toContain(agent.apiKey);
    socket.close();
    const fromGateway = await fetch(`${gateway.httpUrl}/metrics`);
    expect(fromGateway.status).toBe(200);
    expect(await fromGateway.text()).toContain('sesame_realtime_connections');
  });

  it('counts each response once, by route pattern, and requests no route matched as unmatched', async () => {
    const scrape = async () => (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    const value = (body: string, series: string) => Number(body.split('\n').find((line) => line.startsWith(`${series} `))?.slice(series.length + 1) ?? 0);
    const health = '{edge="api",method="GET",route="/api/v1/health"';
    const notFound = 'sesame_http_requests_total{edge="api",method="GET",route="unmatched",status_code="404"}';
    const me = '{edge="api",method="GET",route="/api/v1/auth/me"';
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect((await api.app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'GET', url: '/no/such/route' })).statusCode).toBe(404);
    // One route, two statuses: each counted under its own status_code, both in the route's histogram.
    for (let i = 0; i < 2; i++) expect((await api.call(null, 'GET', '/auth/me')).statusCode).toBe(401);
    expect((await api.call(api.adminKey, 'GET', '/auth/me')).statusCode).toBe(200);
    expect((await api.call(api.adminKey, 'HEAD', '/auth/me')).statusCode).toBe(200);
    const after = await scrape();
    const delta = (series: string) => value(after, series) - value(before, series);
    expect(delta(`sesame_http_requests_total${health},status_code="200"}`)).toBe(3);
    expect(delta(`sesame_http_request_duration_seconds_count${health}}`)).toBe(3);
    expect(delta(notFound)).toBe(1);
    expect(delta(`sesame_http_requests_total${me},status_code="401"}`)).toBe(2);
    expect(delta(`sesame_http_requests_total${me},status_code="200"}`)).toBe(1);
    expect(delta('sesame_http_requests_total{edge="api",method="HEAD",route="/api/v1/auth/me",status_code="200"}')).toBe(1);
    expect(delta(`sesame_http_request_duration_seconds_count${me}}`)).toBe(3);
    expect(delta(`sesame_http_request_duration_seconds_bucket{le="+Inf",${me.slice(1)}}`)).toBe(3);
    // Buckets are cumulative, the last one is the count, and the sum is the time spent.
    const buckets = after.split('\n').filter((line) => line.startsWith('sesame_http_request_duration_seconds_bucket{') && line.includes(me.slice(1)))
      .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
    expect(buckets).toHaveLength(12);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(buckets.at(-1)).toBe(value(after, `sesame_http_request_duration_seconds_count${me}}`));
    expect(delta(`sesame_http_request_duration_seconds_sum${me}}`)).toBeGreaterThan(0);
    // Each of these requests took far less than the last bound (2.5 s): counted in that bucket too.
    expect(delta(`sesame_http_request_duration_seconds_bucket{le="2.5",${me.slice(1)}}`)).toBe(3);
  });

  it('has a server of its own for a process without an HTTP edge (a worker alone)', async () => {
    const server = await serveMetrics(0, '127.0.0.1');
    try {
      const { port } = server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# TYPE sesame_webhook_attempts_total counter');
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
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
