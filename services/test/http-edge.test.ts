import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SesameError } from '../src/shared/errors.js';
import { createHttpApp } from '../src/shared/http/create-http-app.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

/** One HTTP edge: the api and the gateway answer the same way outside their routes. */
describe('the shared HTTP edge', () => {
  let api: TestApi;
  let gateway: TestGateway;
  const apps = (): Array<[string, FastifyInstance]> => [['api', api.app], ['gateway', gateway.app]];

  beforeAll(async () => {
    api = await startTestApi('pglite');
    gateway = await startTestGateway(api.ctx);
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });

  it('answers an unknown route with a Problem Details 404 on both apps, carrying x-request-id', async () => {
    for (const [name, app] of apps()) {
      const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
      expect(res.statusCode, name).toBe(404);
      expect(res.headers['content-type'], name).toMatch(/^application\/problem\+json/);
      expect(res.json(), name).toMatchObject({ type: 'urn:sesame:error:not-found', status: 404, detail: 'No route GET /nope' });
      expect(res.headers['x-request-id'], name).toEqual(expect.any(String));
    }
  });

  it('echoes a caller-supplied x-request-id on both apps', async () => {
    for (const [name, app] of apps()) {
      const res = await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': `trace-${name}` } });
      expect(res.headers['x-request-id'], name).toBe(`trace-${name}`);
    }
  });

  it('renders router errors (oversize path parameter) as Problem Details on both apps', async () => {
    const long = 'a'.repeat(300);
    for (const [name, app] of apps()) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/channels/${long}` });
      expect(res.headers['content-type'], name).toMatch(/^application\/problem\+json/);
      expect(res.statusCode, name).toBeGreaterThanOrEqual(400);
    }
  });

  it('gateway errors go through the same Problem Details handler (SSE without a credential, bad query)', async () => {
    const anonymous = await gateway.app.inject({ method: 'GET', url: '/api/v1/events' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(anonymous.json().type).toBe('urn:sesame:error:unauthorized');
    expect(anonymous.headers['x-request-id']).toEqual(expect.any(String));
    const unknownQuery = await gateway.app.inject({ method: 'GET', url: '/api/v1/events?bogus=1', headers: { authorization: `Bearer ${api.adminKey}` } });
    expect(unknownQuery.statusCode).toBe(400);
    expect(unknownQuery.json().type).toBe('urn:sesame:error:bad-request');
  });

  it('keeps the gateway health check public (authentication is scoped to SSE)', async () => {
    const health = await gateway.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json().status).toBe('healthy');
  });
  it('says when to retry on a 429 and on a 503 that knows (Retry-After header and retryAfter member)', async () => {
    const app = createHttpApp(api.ctx, { edge: 'api' });
    app.get('/busy', { config: { public: true } }, async () => { throw new SesameError('service-unavailable', 'Too busy; retry shortly', { retryAfter: 2 }); });
    app.get('/limited', { config: { public: true } }, async () => { throw new SesameError('rate-limited', 'Slow down', { retryAfter: 7 }); });
    try {
      const busy = await app.inject({ method: 'GET', url: '/busy' });
      expect(busy.statusCode).toBe(503);
      expect(busy.headers['retry-after']).toBe('2');
      expect(busy.json()).toMatchObject({ type: 'urn:sesame:error:service-unavailable', retryAfter: 2 });
      const limited = await app.inject({ method: 'GET', url: '/limited' });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['retry-after']).toBe('7');
    } finally {
      await app.close();
    }
  });
});
