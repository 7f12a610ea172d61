import { Type } from '@sinclair/typebox';
import type { RouteOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { presenceRoute } from '../src/api/routes/presence.js';
import { buildGateway } from '../src/gateway/app.js';
import { eventStreamRoute } from '../src/gateway/event-stream-route.js';
import { RealtimeNode } from '../src/gateway/realtime-node.js';
import { covers, grants } from '../src/shared/auth/scopes.js';
import { installAuthentication } from '../src/shared/http/authentication.js';
import { createHttpApp } from '../src/shared/http/create-http-app.js';
import { startTestApi, type TestApi } from './support/api.js';
import { createTestContext } from './support/context.js';
import { targets } from './support/targets.js';

// Every route either app registers, collected by an onRoute hook on the shared edge.
const registered = vi.hoisted(() => [] as RouteOptions[]);
vi.mock('../src/shared/http/create-http-app.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/shared/http/create-http-app.js')>();
  return {
    ...actual,
    createHttpApp: (...args: Parameters<typeof actual.createHttpApp>) => {
      const app = actual.createHttpApp(...args);
      app.addHook('onRoute', (route) => { registered.push(route); });
      return app;
    },
  };
});

describe('scope semantics', () => {
  it('write implies read, admin implies write and read, * implies all; nothing implies *', () => {
    expect(grants(['write'], 'read')).toBe(true);
    expect(grants(['read'], 'write')).toBe(false);
    expect(grants(['admin'], 'write')).toBe(true);
    expect(grants(['write'], 'admin')).toBe(false);
    expect(grants(['*'], 'admin')).toBe(true);
    expect(covers(['admin'], ['*'])).toBe(false);
    expect(covers(['write'], ['read', 'write'])).toBe(true);
    expect(covers(['read'], ['write'])).toBe(false);
    expect(grants(['vault:everything'], 'read')).toBe(false);
  });
});

describe('every route declares its access', () => {
  it('has a scope or public: true on every route of the api (with SSE and presence) and the gateway', async () => {
    registered.length = 0;
    const ctx = await createTestContext('pglite');
    const node = new RealtimeNode(ctx);
    const api = await buildApp(ctx, { extraRoutes: [eventStreamRoute(node), presenceRoute(node.presence)] });
    const gateway = await buildGateway(ctx, new RealtimeNode(ctx));
    try {
      await api.ready();
      await gateway.ready();
      const urls = registered.map((route) => `${String(route.method)} ${route.url}`);
      // The enumeration sees the routes that matter, including the gateway's SSE and the docs.
      for (const url of ['POST /api/v1/keys', 'GET /api/v1/events', 'GET /api/v1/presence', 'GET /api/docs/', 'GET /health', 'GET /v1/connect']) expect(urls).toContain(url);
      const undeclared = registered.filter((route) => !(route.config?.public === true || route.config?.scope)).map((route) => `${String(route.method)} ${route.url}`);
      expect(undeclared).toEqual([]);
    } finally {
      await gateway.close();
      await api.close();
      await node.close();
      await ctx.close();
    }
  });

  it('refuses to start an app with a route that declares neither', async () => {
    const ctx = await createTestContext('pglite');
    const app = createHttpApp(ctx, { edge: 'api' });
    try {
      installAuthentication(app, ctx);
      app.get('/forgotten', { schema: { querystring: Type.Object({}) } }, async () => ({}));
      await expect(app.ready()).rejects.toThrow(/GET \/forgotten/);
    } finally {
      await app.close().catch(() => {});
      await ctx.close();
    }
  });
});

describe.each(targets())('API key scopes on %s', (target) => {
  let api: TestApi;
  let agent: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let channelId: string;
  const keyWith = async (key: string, scopes: string[]) => {
    const res = await api.call(key, 'POST', '/keys', { name: scopes.join('+'), scopes });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { key: { id: string }; apiKey: string };
  };

  beforeAll(async () => {
    api = await startTestApi(target);
    agent = await api.createAgent('scoped');
    other = await api.createAgent('bystander');
    channelId = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'channel', name: 'scoped', memberIds: [] })).json().data.id;
  });
  afterAll(() => api?.close());

  it('a read key cannot create channels, add members, start uploads, create or revoke keys, or send; it can read', async () => {
    const sibling = await keyWith(agent.apiKey, ['*']);
    const { apiKey: readKey } = await keyWith(agent.apiKey, ['read']);
    const denied = [
      await api.call(readKey, 'POST', '/channels', { kind: 'channel', name: 'nope', memberIds: [] }),
      await api.call(readKey, 'POST', `/channels/${channelId}/members`, { principalId: other.id }),
      await api.call(readKey, 'POST', '/drive/files/upload-url', { fileName: 'a.txt', contentType: 'text/plain', size: 3 }),
      await api.call(readKey, 'POST', '/keys', { name: 'wider', scopes: ['*'] }),
      await api.call(readKey, 'POST', '/keys', { name: 'same', scopes: ['read'] }),
      await api.call(readKey, 'DELETE', `/keys/${sibling.key.id}`),
      await api.call(readKey, 'POST', `/channels/${channelId}/messages`, { content: 'nope' }),
      await api.call(readKey, 'PATCH', `/channels/${channelId}`, { name: 'renamed' }),
      await api.call(readKey, 'POST', `/channels/${channelId}/read`, {}),
    ];
    expect(denied.map((res) => res.statusCode)).toEqual(denied.map(() => 403));
    expect(denied[0].json()).toMatchObject({ type: 'urn:sesame:error:forbidden', detail: "This API key lacks the 'write' scope" });
    // Nothing happened: the sibling key still works, the channel has one member.
    expect((await api.call(sibling.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    const members = await api.call(readKey, 'GET', `/channels/${channelId}/members`);
    expect(members.statusCode).toBe(200);
    expect(members.json().data).toHaveLength(1);
    for (const url of ['/auth/me', '/channels', `/channels/${channelId}`, `/channels/${channelId}/messages`, '/keys', '/manifest', '/principals']) {
      expect((await api.call(readKey, 'GET', url)).statusCode, url).toBe(200);
    }
  });

  it('a write key cannot mint a * or admin key, only keys within its own scopes', async () => {
    const { apiKey: writeKey } = await keyWith(agent.apiKey, ['write']);
    for (const scopes of [['*'], ['admin'], ['write', 'admin']]) {
      const res = await api.call(writeKey, 'POST', '/keys', { name: 'wider', scopes });
      expect(res.statusCode, scopes.join()).toBe(403);
    }
    // Omitting scopes asks for `*`: wider too.
    expect((await api.call(writeKey, 'POST', '/keys', { name: 'default' })).statusCode).toBe(403);
    await keyWith(writeKey, ['read']);
    await keyWith(writeKey, ['write']);
    expect((await api.call(writeKey, 'POST', `/channels/${channelId}/messages`, { content: 'allowed' })).statusCode).toBe(201);
  });

  it('a key without admin cannot use its admin principal\'s admin routes or rights', async () => {
    const { apiKey: adminWrite } = await keyWith(api.adminKey, ['write']);
    const { apiKey: adminRead } = await keyWith(api.adminKey, ['read']);
    for (const key of [adminWrite, adminRead]) {
      expect((await api.call(key, 'GET', '/audit')).statusCode).toBe(403);
      expect((await api.call(key, 'GET', '/audit/verify')).statusCode).toBe(403);
      expect((await api.call(key, 'POST', '/agents', { handle: `sneaky-${key.slice(3, 9).toLowerCase().replace(/[^a-z0-9]/g, 'x')}` })).statusCode).toBe(403);
      expect((await api.call(key, 'POST', '/humans', { email: 'sneaky@example.com', password: 'a long enough secret', handle: 'sneaky' })).statusCode).toBe(403);
      // Another principal's keys: neither listed nor revocable nor mintable.
      expect((await api.call(key, 'GET', `/keys?principalId=${agent.id}`)).statusCode).toBe(403);
      expect((await api.call(key, 'GET', '/keys')).json().data.every((k: { principalId: string }) => k.principalId !== agent.id)).toBe(true);
    }
    const victim = await keyWith(agent.apiKey, ['read']);
    expect((await api.call(adminWrite, 'DELETE', `/keys/${victim.key.id}`)).statusCode).toBe(404);
    expect((await api.call(adminWrite, 'POST', '/keys', { name: 'for-agent', principalId: agent.id, scopes: ['read'] })).statusCode).toBe(403);
    expect((await api.call(victim.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    // The admin key itself (`*`) still can.
    expect((await api.call(api.adminKey, 'GET', '/audit')).statusCode).toBe(200);
    expect((await api.call(api.adminKey, 'DELETE', `/keys/${victim.key.id}`)).statusCode).toBe(200);
  });

  it('a non-admin principal gets no admin-scoped key, and its * key opens no admin route', async () => {
    expect((await api.call(agent.apiKey, 'POST', '/keys', { name: 'adm', scopes: ['admin'] })).statusCode).toBe(403);
    expect((await api.call(agent.apiKey, 'GET', '/audit')).statusCode).toBe(403);
    expect((await api.call(agent.apiKey, 'POST', '/agents', { handle: 'not-by-agent' })).statusCode).toBe(403);
  });

  it('an admin session (access token) may create keys of any scope', async () => {
    const email = `admin-session-${target}@example.com`;
    const password = 'a long enough secret';
    expect((await api.call(api.adminKey, 'POST', '/humans', { email, password, handle: 'session-admin', isAdmin: true })).statusCode).toBe(201);
    const token = (await api.call(null, 'POST', '/auth/login', { email, password })).json().data.accessToken as string;
    for (const scopes of [['*'], ['admin'], ['read']]) expect((await api.call(token, 'POST', '/keys', { name: 'from-session', scopes })).statusCode).toBe(201);
    expect((await api.call(token, 'GET', '/audit')).statusCode).toBe(200);
  });
});
