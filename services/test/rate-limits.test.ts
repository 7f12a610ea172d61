import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

const statusesOf = async (count: number, send: (i: number) => Promise<{ statusCode: number }>) => {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await send(i)).statusCode);
  return statuses;
};

describe.each(targets())('rate budgets on %s', (target) => {
  let api: TestApi;
  // The admin's key for setting up, with a budget of its own that the test does not reach.
  let operatorKey: string;
  const createAgent = async (handle: string) => {
    const res = await api.call(operatorKey, 'POST', '/agents', { handle });
    expect(res.statusCode, res.body).toBe(201);
    return { id: res.json().data.agent.id as string, apiKey: res.json().data.apiKey as string };
  };
  // Small budgets so the test reaches them: 3 writes and 6 reads per minute.
  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_RATE_LIMIT_PER_MINUTE: '3', SESAME_READ_RATE_LIMIT_PER_MINUTE: '6' });
    operatorKey = (await api.call(api.adminKey, 'POST', '/keys', { name: 'operator', rateLimitPerMinute: 1000 })).json().data.apiKey;
  });
  afterAll(() => api?.close());

  it('reads exhausting their budget never stop writes (an agent looking up a channel per message can still send)', async () => {
    const agent = await createAgent('lookup-heavy');
    const key = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'reads-and-writes', scopes: ['write'] })).json().data.apiKey as string;
    expect(await statusesOf(8, () => api.call(key, 'GET', '/auth/me'))).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    const sends = await statusesOf(4, (i) => api.call(key, 'POST', '/channels', { kind: 'channel', name: `c${i}`, memberIds: [] }));
    expect(sends).toEqual([201, 201, 201, 429]);
    const limited = await api.call(key, 'POST', '/channels', { kind: 'channel', name: 'late', memberIds: [] });
    expect(limited.json()).toMatchObject({ type: 'urn:sesame:error:rate-limited', status: 429 });
    expect(limited.json().detail).toContain('3 requests per minute');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const readLimited = await api.call(key, 'GET', '/auth/me');
    expect(readLimited.json().detail).toContain('6 read requests per minute');
    expect(Number(readLimited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('never limits the health check (a probe from one address must not read a 429 as unhealthy)', async () => {
    expect(await statusesOf(8, () => api.call(null, 'GET', '/health'))).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
    const health = await api.call(null, 'GET', '/health');
    expect(health.headers['ratelimit-policy']).toBeUndefined();
    expect(health.headers.ratelimit).toBeUndefined();
    // Other anonymous reads from the same address are still counted.
    const status = await api.call(null, 'GET', '/setup/status');
    expect(status.headers['ratelimit-policy']).toBe('"read";q=6;w=60');
    expect(status.headers.ratelimit).toMatch(/^"read";r=\d;t=\d+$/);
    for (const old of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset']) expect(status.headers[old], old).toBeUndefined();
  });

  it('tells each counted answer its budget, what is left and when the window resets (IETF RateLimit fields)', async () => {
    const agent = await createAgent('counted');
    const fields = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
      const res = await api.call(agent.apiKey, method, url, body);
      const left = /^"(\w+)";r=(\d+);t=(\d+)$/.exec(String(res.headers.ratelimit));
      expect(left, String(res.headers.ratelimit)).not.toBeNull();
      return { status: res.statusCode, policy: res.headers['ratelimit-policy'], name: left![1], remaining: Number(left![2]), reset: Number(left![3]) };
    };
    const reads = [await fields('GET', '/auth/me'), await fields('GET', '/auth/me')];
    expect(reads.map(({ status, policy, name, remaining }) => ({ status, policy, name, remaining }))).toEqual([
      { status: 200, policy: '"read";q=6;w=60', name: 'read', remaining: 5 },
      { status: 200, policy: '"read";q=6;w=60', name: 'read', remaining: 4 },
    ]);
    for (const { reset } of reads) expect(reset).toBeGreaterThan(0);
    for (const { reset } of reads) expect(reset).toBeLessThanOrEqual(60);
    const write = await fields('POST', '/channels', { kind: 'channel', name: 'counted', memberIds: [] });
    expect(write).toMatchObject({ status: 201, policy: '"write";q=3;w=60', name: 'write', remaining: 2 });
    // A key's own limit is its policy's quota; a refused request carries the fields too.
    const key = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'one', rateLimitPerMinute: 1 })).json().data.apiKey as string;
    expect((await api.call(key, 'GET', '/auth/me')).headers['ratelimit-policy']).toBe('"read";q=1;w=60');
    const refused = await api.call(key, 'GET', '/auth/me');
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['ratelimit-policy']).toBe('"read";q=1;w=60');
    expect(refused.headers.ratelimit).toMatch(/^"read";r=0;t=\d+$/);
    // The auth endpoints' own per-address limit is named apart.
    const login = await api.call(null, 'POST', '/auth/login', { email: 'nobody@example.com', password: 'not the password' });
    expect(login.headers['ratelimit-policy']).toMatch(/^"auth";q=\d+;w=60$/);
  });

  it('writes exhausting their budget never stop reads', async () => {
    const agent = await createAgent('write-heavy');
    const sends = await statusesOf(4, (i) => api.call(agent.apiKey, 'POST', '/channels', { kind: 'channel', name: `w${i}`, memberIds: [] }));
    expect(sends).toEqual([201, 201, 201, 429]);
    expect((await api.call(agent.apiKey, 'GET', '/channels')).statusCode).toBe(200);
  });

  it('counts access tokens per principal, in the same two budgets', async () => {
    const email = `budget-${target}@example.com`;
    await api.call(operatorKey, 'POST', '/humans', { email, password: 'a long enough secret', handle: 'budgeted' });
    const token = (await api.call(null, 'POST', '/auth/login', { email, password: 'a long enough secret' })).json().data.accessToken as string;
    expect(await statusesOf(7, () => api.call(token, 'GET', '/channels'))).toEqual([200, 200, 200, 200, 200, 200, 429]);
    expect((await api.call(token, 'POST', '/channels', { kind: 'channel', name: 'still', memberIds: [] })).statusCode).toBe(201);
  });

  it('applies a key\'s own rateLimitPerMinute to its writes', async () => {
    const agent = await createAgent('own-limit');
    const key = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'two', rateLimitPerMinute: 2 })).json().data.apiKey as string;
    const sends = await statusesOf(3, (i) => api.call(key, 'POST', '/channels', { kind: 'channel', name: `k${i}`, memberIds: [] }));
    expect(sends).toEqual([201, 201, 429]);
    expect((await api.call(key, 'GET', '/auth/me')).statusCode).toBe(200);
  });
});

describe('read budget default', () => {
  it('is 600 per minute, and never below the write limit', async () => {
    const { loadConfig } = await import('../src/shared/config.js');
    expect(loadConfig({}).SESAME_READ_RATE_LIMIT_PER_MINUTE).toBe(600);
    const api = await startTestApi('pglite', { SESAME_RATE_LIMIT_PER_MINUTE: '4', SESAME_READ_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      expect(await statusesOf(5, () => api.call(api.adminKey, 'GET', '/auth/me'))).toEqual([200, 200, 200, 200, 429]);
    } finally {
      await api.close();
    }
  });
});

describe.runIf(targets().includes('postgres'))('rate budgets across api replicas on postgres', () => {
  let api: TestApi;
  let replica: FastifyInstance;
  beforeAll(async () => {
    api = await startTestApi('postgres', { SESAME_RATE_LIMIT_PER_MINUTE: '4', SESAME_READ_RATE_LIMIT_PER_MINUTE: '6' });
    // A second api replica: its own app and Redis connection, the same database and Redis.
    replica = await buildApp(api.ctx);
    await replica.ready();
  });
  afterAll(async () => {
    await replica?.close();
    await api?.close();
  });

  const via = (app: FastifyInstance, key: string, method: 'GET' | 'POST', url: string, body?: unknown) => app.inject({
    method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    payload: body ? JSON.stringify(body) : undefined,
  });

  it('shares one budget per caller through Redis, whichever replica a request reaches', async () => {
    const agent = await api.createAgent('replicated');
    const apps = [api.app, replica];
    const writes = await statusesOf(6, (i) => via(apps[i % 2], agent.apiKey, 'POST', '/channels', { kind: 'channel', name: `r${i}`, memberIds: [] }));
    expect(writes).toEqual([201, 201, 201, 201, 429, 429]);
    const reads = await statusesOf(8, (i) => via(apps[i % 2], agent.apiKey, 'GET', '/auth/me'));
    expect(reads).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
  });
});
