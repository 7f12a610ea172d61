import { SesameClient, type TaskEvent } from '@sesamespace/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

type Agent = { id: string; apiKey: string };
interface SseBlock { id?: string; event: string; data: string }

/** Parses a whole SSE body (the task stream ends after `done`, so inject() returns all of it). */
function parseSse(body: string): SseBlock[] {
  return body.split('\n\n').filter((b) => b.trim()).map((text) => {
    const block: SseBlock = { event: 'message', data: '' };
    for (const line of text.split('\n')) {
      if (line.startsWith('id: ')) block.id = line.slice(4);
      else if (line.startsWith('event: ')) block.event = line.slice(7);
      else if (line.startsWith('data: ')) block.data += line.slice(6);
    }
    return block;
  });
}

describe.each(targets())('task runs on %s', (target) => {
  let api: TestApi;
  let worker: Agent;
  let creator: Agent;
  let human: string;
  let channelId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000', SESAME_TASK_STREAM_PING_MS: '50' });
    worker = await api.createAgent('worker');
    creator = await api.createAgent('creator');
    const h = await api.call(api.adminKey, 'POST', '/humans', { email: `h-${target}@example.com`, password: 'correct horse battery', handle: 'hu' });
    const login = await api.call(null, 'POST', '/auth/login', { email: `h-${target}@example.com`, password: 'correct horse battery' });
    human = login.json().data.accessToken;
    const res = await api.call(creator.apiKey, 'POST', '/channels', { kind: 'collaboration', name: 'runs', memberIds: [worker.id, h.json().data.human.id] });
    channelId = res.json().data.id;
  });
  afterAll(() => api?.close());

  const newTask = async () => (await api.call(creator.apiKey, 'POST', `/channels/${channelId}/tasks`, { title: 'run me' })).json().data.id as string;
  const append = (taskId: string, event: Record<string, unknown>, key = worker.apiKey) => api.call(key, 'POST', `/tasks/${taskId}/events`, event);
  const stream = async (taskId: string, headers: Record<string, string> = {}) => {
    const res = await api.call(worker.apiKey, 'GET', `/tasks/${taskId}/stream`, undefined, headers);
    return { res, blocks: parseSse(res.body) };
  };

  it('validates each kind and numbers events gaplessly from 0', async () => {
    const taskId = await newTask();
    const valid = [
      { kind: 'status', status: 'processing', progress: 0 },
      { kind: 'log', logType: 'info', logMessage: 'Cloning repository...' },
      { kind: 'message', textDelta: 'I\'ll add JWT auth...', fullText: 'I\'ll add JWT auth...' },
      { kind: 'tool_call', toolCall: { callId: 'tc_1', name: 'Write', input: { path: 'auth.ts' }, state: 'running', description: null, createdAt: 1705312806000, startedAt: 1705312806000, completedAt: null } },
      { kind: 'tool_result', callId: 'tc_1', output: { ok: true } },
      { kind: 'thinking', thinkingText: 'hmm' },
      { kind: 'error', error: 'transient', code: 'E1' },
    ];
    for (const [i, event] of valid.entries()) {
      const res = await append(taskId, event);
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().data).toMatchObject({ ...event, seq: i, run: 1, authorId: worker.id });
    }
    const invalid = [
      { kind: 'log', logType: 'loud', logMessage: 'x' }, { kind: 'log', logMessage: 'x' }, { kind: 'status', status: 'x', progress: 101 },
      { kind: 'message' }, { kind: 'tool_call', toolCall: { name: 'x' } }, { kind: 'done', status: 'finished' }, { kind: 'nonsense' },
      { kind: 'status', status: 'x', extra: 1 },
    ];
    for (const event of invalid) expect((await append(taskId, event)).statusCode, JSON.stringify(event)).toBe(400);
    expect((await append(taskId, { kind: 'permission_response', requestId: 'r', allow: true })).statusCode).toBe(422);
    const events = (await api.call(worker.apiKey, 'GET', `/tasks/${taskId}/events`)).json().data as TaskEvent[];
    expect(events.map((e) => e.seq)).toEqual(valid.map((_, i) => i));
  });

  it('streams as the reference shows and resumes after every position with Last-Event-ID', async () => {
    const taskId = await newTask();
    await api.call(worker.apiKey, 'POST', `/channels/${channelId}/tasks/${taskId}/claim`);
    await api.call(worker.apiKey, 'PATCH', `/channels/${channelId}/tasks/${taskId}`, { status: 'in_progress' });
    for (let i = 0; i < 5; i++) await append(taskId, { kind: 'log', logType: 'info', logMessage: `step ${i}` });
    const done = await append(taskId, { kind: 'done', status: 'completed' });
    expect(done.json().data).toMatchObject({ seq: 5, kind: 'done', status: 'completed' });
    expect((await api.call(worker.apiKey, 'GET', `/tasks/${taskId}`)).json().data.status).toBe('done');

    const { res, blocks } = await stream(taskId);
    expect(res.headers['content-type']).toContain('text/event-stream');
    const events = blocks.filter((b) => b.event === 'event');
    expect(events.map((b) => b.id)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(JSON.parse(events[0].data)).toMatchObject({ seq: 0, kind: 'log', logType: 'info', logMessage: 'step 0', timestamp: expect.any(String) });
    expect(blocks.at(-1)).toMatchObject({ event: 'end' });
    for (let position = -1; position <= 5; position++) {
      const resumed = (await stream(taskId, { 'last-event-id': String(position) })).blocks.filter((b) => b.event === 'event').map((b) => Number(b.id));
      expect(resumed, `after ${position}`).toEqual([0, 1, 2, 3, 4, 5].filter((seq) => seq > position));
    }
    // `?after=` does the same for clients that cannot set headers; the header wins.
    expect((await api.call(worker.apiKey, 'GET', `/tasks/${taskId}/stream?after=3`)).body).toContain('id: 4\n');
    expect((await stream(taskId, { 'last-event-id': 'abc' })).res.statusCode).toBe(400);
    // The run has ended: appending is refused.
    expect((await append(taskId, { kind: 'log', logType: 'info', logMessage: 'late' })).statusCode).toBe(409);
  });

  it('delivers live events to an open stream, pings, and ends it at done', async () => {
    const taskId = await newTask();
    const base = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const response = await fetch(`${base}/api/v1/tasks/${taskId}/stream`, { headers: { authorization: `Bearer ${worker.apiKey}` } });
    const reader = (async () => {
      let text = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(chunk).toString('utf8');
      return text;
    })();
    await append(taskId, { kind: 'status', status: 'processing', progress: 10 });
    await new Promise((r) => setTimeout(r, 120));
    await append(taskId, { kind: 'log', logType: 'info', logMessage: 'live' });
    await api.call(worker.apiKey, 'POST', `/channels/${channelId}/tasks/${taskId}/claim`);
    await api.call(worker.apiKey, 'PATCH', `/channels/${channelId}/tasks/${taskId}`, { status: 'in_progress' });
    await append(taskId, { kind: 'done', status: 'failed' });
    const blocks = parseSse(await reader);
    expect(blocks.filter((b) => b.event === 'event').map((b) => b.id)).toEqual(['0', '1', '2']);
    expect(blocks.some((b) => b.event === 'ping' && b.data === 'keepalive')).toBe(true);
    expect(blocks.at(-1)?.event).toBe('end');
  });

  it('answers a permission request once, by a human member or the creator only', async () => {
    const taskId = await newTask();
    await append(taskId, { kind: 'permission_request', requestId: 'perm-1', description: 'Run migrations?' });
    const url = `/tasks/${taskId}/permissions/perm-1`;
    expect((await api.call(worker.apiKey, 'POST', url, { allow: true })).statusCode).toBe(403);
    expect((await api.call(human, 'POST', `/tasks/${taskId}/permissions/nope`, { allow: true })).statusCode).toBe(404);
    const answered = await api.call(human, 'POST', url, { allow: false, reason: 'not today' });
    expect(answered.statusCode, answered.body).toBe(201);
    expect(answered.json().data).toMatchObject({ kind: 'permission_response', requestId: 'perm-1', allow: false, reason: 'not today', seq: 1 });
    expect((await api.call(creator.apiKey, 'POST', url, { allow: true })).statusCode).toBe(409);
  });

  it('cancels and retries as new runs, keeping earlier runs readable', async () => {
    const taskId = await newTask();
    expect((await api.call(worker.apiKey, 'POST', `/tasks/${taskId}/retry`)).statusCode).toBe(409);
    await api.call(worker.apiKey, 'POST', `/channels/${channelId}/tasks/${taskId}/claim`);
    await append(taskId, { kind: 'log', logType: 'info', logMessage: 'run 1' });
    const canceled = await api.call(creator.apiKey, 'POST', `/tasks/${taskId}/cancel`);
    expect(canceled.json().data).toMatchObject({ status: 'canceled', run: 1 });
    expect((await api.call(creator.apiKey, 'POST', `/tasks/${taskId}/cancel`)).statusCode).toBe(409);
    const retried = await api.call(worker.apiKey, 'POST', `/tasks/${taskId}/retry`);
    expect(retried.json().data).toMatchObject({ status: 'claimed', run: 2, claimedBy: worker.id, completedAt: null });
    await append(taskId, { kind: 'log', logType: 'info', logMessage: 'run 2' });

    const events = (await api.call(worker.apiKey, 'GET', `/tasks/${taskId}/events`)).json().data as TaskEvent[];
    expect(events.map((e) => [e.seq, e.run, e.kind])).toEqual([[0, 1, 'log'], [1, 1, 'done'], [2, 2, 'status'], [3, 2, 'log']]);
    expect(events[1]).toMatchObject({ status: 'canceled' });
    // Run 1's done does not end a stream of run 2: it goes on until run 2 ends.
    const base = await api.app.listen({ port: 0, host: '127.0.0.1' }).catch(() => `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`);
    const client = new SesameClient({ apiUrl: base, apiKey: worker.apiKey });
    const seen: number[] = [];
    const reading = (async () => { for await (const event of client.streamTask(taskId)) seen.push(event.seq); })();
    await new Promise((r) => setTimeout(r, 100));
    await api.call(worker.apiKey, 'PATCH', `/channels/${channelId}/tasks/${taskId}`, { status: 'in_progress' });
    await append(taskId, { kind: 'done', status: 'completed' });
    await reading;
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    // Resuming after the end yields nothing and returns.
    const after: number[] = [];
    for await (const event of client.streamTask(taskId, { after: 4 })) after.push(event.seq);
    expect(after).toEqual([]);
  });
});
