import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventStream } from '../src/shared/http/event-stream-response.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';

describe.each(targets())('security headers on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  beforeAll(async () => {
    api = await startTestApi(target);
    gateway = await startTestGateway(api.ctx);
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });

  const expectHardened = (headers: Record<string, unknown>, name: string) => {
    expect(headers['x-content-type-options'], name).toBe('nosniff');
    expect(headers['strict-transport-security'], name).toMatch(/max-age=\d+/);
    expect(headers['referrer-policy'], name).toBe('no-referrer');
  };
  // The cross-origin isolation policies and X-Frame-Options are a page's (the OpenAPI page, the console).
  const expectPageIsolation = (headers: Record<string, unknown>, name: string) => {
    expect(headers['cross-origin-opener-policy'], name).toBe('same-origin');
    expect(headers['cross-origin-resource-policy'], name).toBe('same-origin');
    expect(headers['x-frame-options'], name).toBe('SAMEORIGIN');
  };

  it('sends them on every api and gateway response, errors included, with a CSP that lets JSON load nothing', async () => {
    const responses: Array<[string, FastifyInstance, string, Record<string, string>?]> = [
      ['api health', api.app, '/api/v1/health'],
      ['api authenticated', api.app, '/api/v1/auth/me', { authorization: `Bearer ${api.adminKey}` }],
      ['api 401', api.app, '/api/v1/channels'],
      ['api 404', api.app, '/nope'],
      ['gateway health', gateway.app, '/health'],
      ['gateway SSE 401', gateway.app, '/api/v1/events'],
    ];
    for (const [name, app, url, headers] of responses) {
      const res = await app.inject({ method: 'GET', url, headers });
      expectHardened(res.headers, name);
      expect(res.headers['content-security-policy'], name).toContain("default-src 'none'");
      expect(res.headers['content-security-policy'], name).toContain("frame-ancestors 'none'");
      // Helmet's headers that protect nothing on an api are left out (one less line per response each),
      // and so are the cross-origin isolation policies of pages: these answers are no pages, and their
      // credential is a header no cross-site embed can send; and X-Frame-Options, which a browser
      // enforcing the CSP's frame-ancestors (checked above) ignores.
      for (const obsolete of ['x-xss-protection', 'x-download-options', 'x-permitted-cross-domain-policies', 'origin-agent-cluster', 'x-dns-prefetch-control', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'x-frame-options']) {
        expect(res.headers[obsolete], `${name}: ${obsolete}`).toBeUndefined();
      }
    }
  });

  it('keeps the OpenAPI page working: public, with a CSP allowing its own scripts, styles and the spec', async () => {
    const page = await api.app.inject({ method: 'GET', url: '/api/docs/' });
    expect(page.statusCode).toBe(200);
    expectHardened(page.headers, 'docs');
    expectPageIsolation(page.headers, 'docs');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    for (const asset of ['/api/docs/static/swagger-ui-bundle.js', '/api/docs/static/swagger-initializer.js', '/api/docs/static/swagger-ui.css', '/api/docs/json']) {
      const response = await api.app.inject({ method: 'GET', url: asset });
      expect(response.statusCode, asset).toBe(200);
      expectPageIsolation(response.headers, asset);
    }
  });
});

describe('security headers on an event stream', () => {
  it('a hijacked text/event-stream reply sends them too (its headers are written on the raw response)', async () => {
    const app = Fastify({ forceCloseConnections: true });
    app.get('/stream', (request, reply) => {
      startEventStream(request, reply);
      reply.raw.write(': open\n\n');
    });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const controller = new AbortController();
    try {
      const res = await fetch(`${address}/stream`, { signal: controller.signal });
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    } finally {
      controller.abort();
      await app.close();
    }
  });
});
