import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

function expectProblem(res: { statusCode: number; headers: Record<string, unknown>; json(): any }, status: number) {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  const body = res.json();
  expect(body.type).toMatch(/^urn:sesame:error:/);
  expect(body.status).toBe(status);
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
}

describe.each(targets())('bad input on %s', (target) => {
  let api: TestApi;
  let agent: { id: string; apiKey: string };
  let channelId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_BODY_LIMIT_BYTES: '65536' });
    agent = await api.createAgent('fuzzer');
    channelId = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'channel', name: 'fuzz', memberIds: [] })).json().data.id;
  });
  afterAll(() => api?.close());

  it('malformed JSON is a 400', async () => {
    expectProblem(await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, '{"content": "x"', { 'content-type': 'application/json' }), 400);
    expectProblem(await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, '', { 'content-type': 'application/json' }), 400);
  });

  it('wrong types are a 400 and are never coerced', async () => {
    for (const body of [{ content: 123 }, { content: 'x', kind: 7 }, { content: ['a'] }, { content: 'x', clientGeneratedId: {} }, [], 'just a string', null]) {
      const res = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, JSON.stringify(body), { 'content-type': 'application/json' });
      expectProblem(res, 400);
    }
  });

  it('unknown fields are a 400 naming the field', async () => {
    const res = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'x', colour: 'red' });
    expectProblem(res, 400);
    expect(res.json().detail).toContain('colour');
  });

  it('an oversize body is a 413', async () => {
    expectProblem(await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'x'.repeat(70_000) }), 413);
  });

  it('a non-JSON content type is a 415', async () => {
    expectProblem(await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, 'content=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
  });

  it('bad cursors, limits and ids are a 400', async () => {
    for (const query of ['cursor=!!!', 'cursor=eyJzZXEiOiJ4In0', `cursor=${Buffer.from('{"seq":1,"dir":"sideways"}').toString('base64url')}`, 'limit=0', 'limit=100000', 'limit=abc', 'direction=up', 'before=-1', 'before=1&after=2']) {
      expectProblem(await api.call(agent.apiKey, 'GET', `/channels/${channelId}/messages?${query}`), 400);
    }
    expectProblem(await api.call(agent.apiKey, 'GET', '/channels?cursor=%7B%7D'), 400);
    expectProblem(await api.call(agent.apiKey, 'GET', `/channels/${'x'.repeat(150)}`), 400);
    const huge = await api.call(agent.apiKey, 'GET', `/channels/${'x'.repeat(5000)}`);
    expect(huge.statusCode).toBe(414);
    expect(huge.headers['content-type']).toContain('application/problem+json');
    expectProblem(await api.call(agent.apiKey, 'GET', '/channels/bad%20id'), 400);
  });

  it('unknown routes are a 404 Problem', async () => {
    expectProblem(await api.call(agent.apiKey, 'GET', '/no-such-thing'), 404);
  });

  it('no route answers garbage with a 5xx', async () => {
    const spec = (await api.call(null, 'GET', '/api/openapi.json')).json();
    const garbage: unknown[] = [
      undefined, '{', '[]', '"str"', '123', 'null', '{"a":{"b":{"c":[1,2,{"d":null}]}}}',
      JSON.stringify({ content: '\u0000\ud800', handle: '../../etc/passwd', memberIds: ['x'.repeat(101)], kind: 'dm', seq: -1, email: 'not-an-email', password: '' }),
      JSON.stringify({ content: 'x', kind: 'text', memberIds: [], name: 'n', principalId: 'pr_missing', seq: 1e308, emoji: ' ', refreshToken: 'rt_x', nonce: 'n', signature: '!!', handle: 'h' }),
    ];
    const ids = ['does-not-exist', channelId, `inbox:${agent.id}`, "'; DROP TABLE messages; --", '%00'];
    let checked = 0;
    for (const [path, methods] of Object.entries<Record<string, unknown>>(spec.paths)) {
      if (!path.startsWith('/api/v1')) continue;
      for (const method of Object.keys(methods)) {
        for (const id of ids) {
          const url = path.replace(/\{[^}]+\}/g, encodeURIComponent(id)) + '?limit=-5&cursor=%%%';
          for (const body of method === 'get' || method === 'delete' ? [undefined] : garbage) {
            const res = await api.app.inject({
              method: method.toUpperCase() as 'GET', url,
              headers: { authorization: `Bearer ${agent.apiKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
              payload: body as string | undefined,
            });
            checked++;
            expect(res.statusCode, `${method.toUpperCase()} ${url} ${String(body).slice(0, 40)} → ${res.body.slice(0, 200)}`).toBeLessThan(500);
            if (res.statusCode >= 400) expect(res.headers['content-type']).toContain('application/problem+json');
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
  }, 120_000);
});
