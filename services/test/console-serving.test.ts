import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { createTestContext, type TestContext } from './support/context.js';

/** How the api serves the console's build at `/` (the page itself is tested in a browser: console.test.ts). */
describe('the console at /', () => {
  const built = mkdtempSync(join(tmpdir(), 'sesame-console-'));
  let ctx: TestContext;
  beforeAll(async () => {
    mkdirSync(join(built, 'assets'));
    writeFileSync(join(built, 'index.html'), '<!doctype html><meta name="sesame-gateway" content="" /><script type="module" src="/assets/app-abc123.js"></script>');
    writeFileSync(join(built, 'assets/app-abc123.js'), 'console.log(1)');
    ctx = await createTestContext('pglite', { GATEWAY_PORT: '14532' });
  });
  afterAll(async () => {
    await ctx.close();
    rmSync(built, { recursive: true, force: true });
  });

  it('serves the page with its CSP and the gateway port, hashed assets as immutable, and page paths from the same page', async () => {
    const app = await buildApp(ctx, { consoleDir: built });
    try {
      const page = await app.inject({ url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.body).toContain('<meta name="sesame-gateway" content=":14532" />');
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain('ws://*:14532');
      expect(csp).not.toContain('unsafe-inline');
      // A page keeps the cross-origin isolation policies and X-Frame-Options the API's answers leave out.
      expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(page.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(page.headers['x-frame-options']).toBe('SAMEORIGIN');

      const asset = await app.inject({ url: '/assets/app-abc123.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['content-type']).toMatch(/^text\/javascript/);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect((await app.inject({ url: '/assets/nope.js' })).statusCode).toBe(404);

      const deepLink = await app.inject({ url: '/channels/ch_1', headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(deepLink.statusCode).toBe(200);
      expect(deepLink.body).toBe(page.body);
      expect(deepLink.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(deepLink.headers['x-frame-options']).toBe('SAMEORIGIN');
      // A script (no text/html in Accept) asking for an unknown path keeps its 404.
      expect((await app.inject({ url: '/channels/ch_1', headers: { accept: 'application/json' } })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('never shadows the api, the gateway paths, health or the OpenAPI docs', async () => {
    const app = await buildApp(ctx, { consoleDir: built });
    try {
      const html = { accept: 'text/html' };
      for (const url of ['/api/v1/nope', '/api/nope', '/v1/connect', '/health', '/api']) {
        const response = await app.inject({ url, headers: html });
        expect(response.statusCode, url).toBe(404);
        expect(response.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      }
      expect((await app.inject({ url: '/api/v1/health' })).json()).toMatchObject({ status: 'healthy' });
      expect((await app.inject({ url: '/api/openapi.json' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/api/docs', headers: html })).statusCode).not.toBe(404);
      // The api's own responses keep the JSON CSP.
      expect(String((await app.inject({ url: '/api/v1/health' })).headers['content-security-policy'])).toContain("default-src 'none'");
    } finally {
      await app.close();
    }
  });

  it('answers a readable 503 at / when the console is not built, and starts all the same', async () => {
    const app = await buildApp(ctx, { consoleDir: join(built, 'missing') });
    try {
      const response = await app.inject({ url: '/' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ title: 'Service Unavailable', detail: expect.stringContaining('npm run build') });
      expect((await app.inject({ url: '/api/v1/health' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('is not served by an app built without a console folder', async () => {
    const app = await buildApp(ctx);
    try {
      expect((await app.inject({ url: '/' })).statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });
});
