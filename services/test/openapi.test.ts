import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';

describe('OpenAPI', () => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi('pglite'); });
  afterAll(() => api?.close());

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const res = await api.call(null, 'GET', '/api/openapi.json');
    expect(res.statusCode).toBe(200);
    const spec = res.json();
    expect(spec.openapi).toBe('3.1.0');
    for (const path of ['/api/v1/channels', '/api/v1/channels/{id}/messages', '/api/v1/auth/verify', '/api/v1/agents', '/api/v1/keys']) {
      expect(spec.paths).toHaveProperty([path]);
    }
    const send = spec.paths['/api/v1/channels/{id}/messages'].post;
    expect(send.requestBody.content['application/json'].schema.properties).toHaveProperty('clientGeneratedId');
  });

  it('serves a browsable page', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/api/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
  });
});
