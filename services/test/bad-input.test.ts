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

  // Postgres `text` and `jsonb` cannot store U+0000: each of these reached an INSERT or a query
  // and came back as a 500 before the schemas kept NUL out.
  it('a NUL character in any free-text field is a 400 naming the field, never a 500', async () => {
    const N = 'bad\u0000text';
    const mine = (await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'to edit' })).json().data.id;
    const cases: [field: string, method: 'POST' | 'PATCH' | 'GET', path: string, body?: Record<string, unknown>][] = [
      ['content', 'POST', `/channels/${channelId}/messages`, { content: N }],
      ['content', 'PATCH', `/channels/${channelId}/messages/${mine}`, { content: N }],
      ['intent', 'POST', `/channels/${channelId}/messages`, { content: 'x', intent: N }],
      ['clientGeneratedId', 'POST', `/channels/${channelId}/messages`, { content: 'x', clientGeneratedId: N }],
      ['name', 'POST', '/channels', { kind: 'channel', name: N, memberIds: [] }],
      ['description', 'POST', '/channels', { kind: 'channel', name: 'n', description: N, memberIds: [] }],
      ['context', 'POST', '/channels', { kind: 'channel', name: 'n', context: N, memberIds: [] }],
      ['name', 'PATCH', `/channels/${channelId}`, { name: N }],
      ['description', 'PATCH', `/channels/${channelId}`, { description: N }],
      ['context', 'PATCH', `/channels/${channelId}`, { context: N }],
      ['displayName', 'POST', '/agents', { handle: 'nul-agent', displayName: N }],
      ['displayName', 'POST', '/humans', { handle: 'nul-human', email: 'nul@example.com', password: 'long enough', displayName: N }],
      ['name', 'POST', '/keys', { name: N }],
      ['displayName', 'POST', '/auth/signup', { email: 'nul-signup@example.com', password: 'long enough', displayName: N }],
      ['workspaceName', 'POST', '/auth/signup', { email: 'nul-signup2@example.com', password: 'long enough', displayName: 'd', workspaceName: N }],
      ['action', 'GET', `/audit?action=${encodeURIComponent(N)}`],
      ['contentType', 'POST', '/drive/files/upload-url', { fileName: 'f.txt', contentType: `text/plain${N}`, size: 1 }],
      ['metadata', 'POST', `/channels/${channelId}/messages`, { content: 'x', metadata: { note: N } }],
      ['metadata', 'POST', `/channels/${channelId}/messages`, { content: 'x', metadata: { [N]: true } }],
      ['metadata', 'POST', `/channels/${channelId}/messages`, { content: 'x', kind: 'tool_call', metadata: { toolCall: { callId: 'c', name: 'n', input: [{ deep: N }] } } }],
    ];
    for (const [field, method, path, body] of cases) {
      const key = path.startsWith('/auth/') ? null : ['/agents', '/humans', '/audit'].some((p) => path.startsWith(p)) ? api.adminKey : agent.apiKey;
      const res = await api.call(key, method, path, body);
      expectProblem(res, 400);
      expect(res.json().detail, `${method} ${path} ${field}`).toContain(field);
    }
    // A forged cursor cannot smuggle one into a query either.
    expectProblem(await api.call(agent.apiKey, 'GET', `/principals?cursor=${Buffer.from(JSON.stringify({ id: N })).toString('base64url')}`), 400);
  });

  // An unpaired UTF-16 surrogate is valid in a JSON escape (`\ud800`) but has no UTF-8 form: the
  // driver wrote U+FFFD in its place (the stored content differed from what was accepted) and
  // `jsonb` refuses the escape (the event payload, metadata).
  it('an unpaired surrogate in free text or metadata is a 400 naming the field; pairs (emoji) are kept', async () => {
    const mine = (await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'to edit' })).json().data.id;
    const cases: [field: string, method: 'POST' | 'PATCH', path: string, body: Record<string, unknown>][] = [];
    for (const lone of ['\ud800', 'a\udfffb', '\ude00\ud83d']) {
      cases.push(
        ['content', 'POST', `/channels/${channelId}/messages`, { content: lone }],
        ['content', 'PATCH', `/channels/${channelId}/messages/${mine}`, { content: lone }],
        ['name', 'PATCH', `/channels/${channelId}`, { name: lone }],
        ['metadata', 'POST', `/channels/${channelId}/messages`, { content: 'x', metadata: { note: lone } }],
        ['metadata', 'POST', `/channels/${channelId}/messages`, { content: 'x', metadata: { [lone]: 1 } }],
        ['fileName', 'POST', '/drive/files/upload-url', { fileName: `f${lone}.txt`, contentType: 'text/plain', size: 1 }],
      );
    }
    for (const [field, method, path, body] of cases) {
      const res = await api.call(agent.apiKey, method, path, body);
      expect(res.statusCode, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.json().detail, `${method} ${path} ${field}`).toContain(field);
    }
    expectProblem(await api.call(agent.apiKey, 'GET', `/principals?cursor=${Buffer.from('{"id":"\\ud800"}').toString('base64url')}`), 400);
    const emoji = 'ok 😀 \u{1F9D1}\u200D\u{1F4BB} é中';
    const sent = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: emoji, metadata: { [emoji]: emoji } });
    expect(sent.statusCode).toBe(201);
    const stored = (await api.call(agent.apiKey, 'GET', `/channels/${channelId}/messages?limit=1`)).json().data[0];
    expect(stored.content).toBe(emoji);
    expect(stored.metadata[emoji]).toBe(emoji);
  });

  it('integers beyond the safe range are a 400 naming the parameter, never a bigint overflow', async () => {
    for (const value of ['99999999999999999999', '1e400', '9007199254740992']) {
      for (const path of [`/streams/${channelId}/events?after=${value}`, `/channels/${channelId}/messages?after=${value}`, `/channels/${channelId}/messages?before=${value}`]) {
        const res = await api.call(agent.apiKey, 'GET', path);
        expectProblem(res, 400);
        expect(res.json().detail).toMatch(/querystring\/(after|before)/);
      }
    }
    const read = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/read`, '{"seq": 99999999999999999999}', { 'content-type': 'application/json' });
    expectProblem(read, 400);
    expect(read.json().detail).toContain('seq');
    const size = await api.call(agent.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'f', contentType: 'text/plain', size: 1e300 });
    expectProblem(size, 400);
    expect(size.json().detail).toContain('size');
  });

  it('metadata nested thousands deep is a 400, and the server keeps serving', async () => {
    const nested = (depth: number, leaf: unknown, wrap: (inner: unknown) => unknown) => {
      let value = leaf;
      for (let i = 0; i < depth; i++) value = wrap(value);
      return value;
    };
    const bodies = [
      { content: 'x', metadata: nested(3000, 1, (inner) => ({ a: inner })) as Record<string, unknown> },
      // Deep enough that JSON.stringify overflows the stack (so the body is written by hand).
      `{"content":"x","metadata":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      { content: 'x', kind: 'tool_call', metadata: { toolCall: { callId: 'c', name: 'n', input: nested(3000, 1, (inner) => [inner]) } } },
    ];
    for (const body of bodies) {
      const res = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, body, { 'content-type': 'application/json' });
      expectProblem(res, 400);
      expect(res.json().detail).toContain('metadata');
    }
    const big = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'x', metadata: { notes: 'y'.repeat(25_000), more: 'y'.repeat(25_000) } });
    expect(big.statusCode).toBe(201);
    const alive = await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'still here', metadata: nested(20, 1, (inner) => ({ a: inner })) as Record<string, unknown> });
    expect(alive.statusCode).toBe(201);
    expect((await api.call(agent.apiKey, 'GET', `/channels/${channelId}/messages?limit=1`)).json().data[0].content).toBe('still here');
  });

  it('a content type with CR/LF (a header injection on download) is a 400', async () => {
    for (const contentType of ['text/plain\r\nX-Evil: 1', 'text/plain\n', 'text/plain; charset=utf-8\r\n\r\n<html>']) {
      const res = await api.call(agent.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'f.txt', contentType, size: 1 });
      expectProblem(res, 400);
      expect(res.json().detail).toContain('contentType');
    }
    const ok = await api.call(agent.apiKey, 'POST', '/drive/files/upload-url', { fileName: 'f.txt', contentType: 'text/plain; charset=utf-8', size: 1 });
    expect(ok.statusCode).toBe(200);
  });

  it('every request integer is bounded and every request string keeps U+0000 and unpaired surrogates out (OpenAPI)', async () => {
    const spec = (await api.call(null, 'GET', '/api/openapi.json')).json();
    const problems: string[] = [];
    const check = (schema: any, where: string): void => {
      if (!schema || typeof schema !== 'object') return;
      if (schema.$ref) { check(spec.components?.schemas?.[String(schema.$ref).split('/').pop()!], where); return; }
      for (const key of ['anyOf', 'oneOf', 'allOf'] as const) for (const [i, s] of (schema[key] ?? []).entries()) check(s, `${where}[${i}]`);
      if (schema.type === 'integer' && !(Number.isSafeInteger(schema.minimum) && Number.isSafeInteger(schema.maximum))) problems.push(`${where}: unbounded integer`);
      if (schema.type === 'string' && schema.enum === undefined && schema.const === undefined && !schema.format) {
        const pattern = schema.pattern === undefined ? null : new RegExp(schema.pattern, 'u');
        if (!pattern || !/^\^.*\$$/s.test(schema.pattern) || pattern.test('\u0000')) problems.push(`${where}: string may hold U+0000`);
        else if (pattern.test('\ud800') || pattern.test('a\udc00')) problems.push(`${where}: string may hold an unpaired surrogate`);
      }
      if (schema.type === 'object') {
        for (const [name, s] of Object.entries<any>(schema.properties ?? {})) check(s, `${where}.${name}`);
        if (schema.additionalProperties === true && !schema['x-bounded-json']) problems.push(`${where}: free-form object without bounds`);
      }
      if (schema.type === 'array') check(schema.items, `${where}[]`);
    };
    for (const [path, methods] of Object.entries<Record<string, any>>(spec.paths)) {
      for (const [method, op] of Object.entries<any>(methods)) {
        for (const parameter of op.parameters ?? []) check(parameter.schema, `${method.toUpperCase()} ${path} ${parameter.in}.${parameter.name}`);
        check(op.requestBody?.content?.['application/json']?.schema, `${method.toUpperCase()} ${path} body`);
      }
    }
    expect(problems).toEqual([]);
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
