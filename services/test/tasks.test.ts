import { TASK_STATUSES, TASK_TRANSITIONS, type TaskStatus } from '@sesamespace/sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

type Agent = { id: string; apiKey: string };

describe.each(targets())('tasks on %s', (target) => {
  let api: TestApi;
  let alice: Agent;
  let bob: Agent;
  let carol: Agent;
  let channelId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_ALLOW_SIGNUP: 'true', SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000' });
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    carol = await api.createAgent('carol');
    const res = await api.call(alice.apiKey, 'POST', '/channels', { kind: 'collaboration', name: 'work', memberIds: [bob.id], context: 'ship it' });
    channelId = res.json().data.id;
  });
  afterAll(() => api?.close());

  const create = async (body: Record<string, unknown> = {}, key = alice.apiKey) => {
    const res = await api.call(key, 'POST', `/channels/${channelId}/tasks`, { title: 'Deploy v2.0', priority: 'high', ...body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { id: string; status: TaskStatus; claimedBy: string | null; assignees: { principalId: string; role: string }[]; run: number };
  };
  const patch = (taskId: string, body: Record<string, unknown>, key = alice.apiKey) => api.call(key, 'PATCH', `/channels/${channelId}/tasks/${taskId}`, body);
  const events = async (stream: string, key = alice.apiKey) =>
    (await api.call(key, 'GET', `/streams/${encodeURIComponent(stream)}/events?after=0&limit=1000`)).json().data as { type: string; data: any }[];

  it('creates, reads and lists tasks filtered by status and priority', async () => {
    const task = await create({ description: 'to production', labels: ['release'], dueAt: '2030-01-01T00:00:00.000Z' });
    expect(task).toMatchObject({ status: 'open', claimedBy: null, assignees: [], run: 1 });
    const low = await create({ title: 'tidy', priority: 'low' });
    const got = await api.call(bob.apiKey, 'GET', `/channels/${channelId}/tasks/${task.id}`);
    expect(got.json().data).toMatchObject({ id: task.id, title: 'Deploy v2.0', description: 'to production', labels: ['release'], dueAt: '2030-01-01T00:00:00.000Z', priority: 'high' });
    const high = (await api.call(bob.apiKey, 'GET', `/channels/${channelId}/tasks?status=open&priority=high`)).json().data as { id: string }[];
    expect(high.map((t) => t.id)).toContain(task.id);
    expect(high.map((t) => t.id)).not.toContain(low.id);
    expect((await api.call(bob.apiKey, 'GET', `/channels/${channelId}/tasks?status=nonsense`)).statusCode).toBe(400);
    expect((await api.call(bob.apiKey, 'POST', `/channels/${channelId}/tasks`, { title: 'x', priority: 'whenever' })).statusCode).toBe(400);
  });

  it('pages listTasks newest first with a cursor', async () => {
    const res = await api.call(alice.apiKey, 'POST', '/channels', { kind: 'channel', name: 'paged', memberIds: [] });
    const ch = res.json().data.id;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await api.call(alice.apiKey, 'POST', `/channels/${ch}/tasks`, { title: `t${i}` })).json().data.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: { id: string }[]; pagination: { nextCursor: string | null } } = (await api.call(alice.apiKey, 'GET', `/channels/${ch}/tasks?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      seen.push(...page.data.map((t: { id: string }) => t.id));
      cursor = page.pagination.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('follows the transition table: every illegal move is 409 naming both states, an unknown status 400', async () => {
    // Walks a fresh task to each status along legal moves, then tries every target from there.
    const pathTo: Record<TaskStatus, TaskStatus[]> = {
      open: [], claimed: ['claimed'], in_progress: ['in_progress'], blocked: ['in_progress', 'blocked'],
      input_required: ['in_progress', 'input_required'], done: ['in_progress', 'done'], failed: ['in_progress', 'failed'], canceled: ['canceled'],
    };
    for (const from of TASK_STATUSES) {
      for (const to of TASK_STATUSES) {
        if (to === from) continue;
        const task = await create({ title: `${from}->${to}` });
        for (const step of pathTo[from]) expect((await patch(task.id, { status: step })).statusCode, `${from} via ${step}`).toBe(200);
        const res = await patch(task.id, { status: to });
        if (TASK_TRANSITIONS[from].includes(to)) {
          expect(res.statusCode, `${from} -> ${to}: ${res.body}`).toBe(200);
          expect(res.json().data.status).toBe(to);
        } else {
          expect(res.statusCode, `${from} -> ${to}`).toBe(409);
          expect(res.json()).toMatchObject({ type: 'urn:sesame:error:conflict', from, to });
          expect(res.json().detail).toContain(`'${from}'`);
          expect(res.json().detail).toContain(`'${to}'`);
        }
      }
    }
    const task = await create();
    expect((await patch(task.id, { status: 'finished' })).statusCode).toBe(400);
  }, 180_000); // 56 tasks walked one request at a time: slow on a loaded machine, not a timing check

  it('claims atomically: of 50 concurrent claimers exactly one wins, the rest get 409', { timeout: 120_000 }, async () => {
    const claimers: Agent[] = [];
    for (let i = 0; i < 50; i++) claimers.push(await api.createAgent(`claimer-${i}`));
    const res = await api.call(alice.apiKey, 'POST', '/channels', { kind: 'collaboration', name: 'race', memberIds: claimers.map((c) => c.id) });
    const raceChannel = res.json().data.id;
    const task = (await api.call(alice.apiKey, 'POST', `/channels/${raceChannel}/tasks`, { title: 'only one' })).json().data;
    const results = await Promise.all(claimers.map((c) => api.call(c.apiKey, 'POST', `/channels/${raceChannel}/tasks/${task.id}/claim`)));
    const codes = results.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 200), JSON.stringify(results.filter((r) => r.statusCode !== 409).map((r) => r.body))).toHaveLength(1);
    expect(codes.filter((c) => c === 409), JSON.stringify(results.filter((r) => r.statusCode !== 409).slice(0, 3).map((r) => r.body))).toHaveLength(49);
    const winner = claimers[codes.indexOf(200)];
    const after = (await api.call(alice.apiKey, 'GET', `/channels/${raceChannel}/tasks/${task.id}`)).json().data;
    expect(after).toMatchObject({ status: 'claimed', claimedBy: winner.id, assignees: [{ principalId: winner.id, role: 'owner' }] });
    // Claiming a claimed task, even by its claimer, is a conflict too.
    expect((await api.call(winner.apiKey, 'POST', `/channels/${raceChannel}/tasks/${task.id}/claim`)).statusCode).toBe(409);
    // Unclaiming hands it back: open again, without the claimer's owner role, and claimable.
    const unclaimed = await api.call(winner.apiKey, 'PATCH', `/channels/${raceChannel}/tasks/${task.id}`, { status: 'open' });
    expect(unclaimed.json().data).toMatchObject({ status: 'open', claimedBy: null, assignees: [] });
    expect((await api.call(claimers[0].apiKey, 'POST', `/channels/${raceChannel}/tasks/${task.id}/claim`)).statusCode).toBe(200);
    // Each claim and the unclaim: one task.assigned and one task.updated on the channel.
    const types = (await events(raceChannel)).filter((e) => e.type.startsWith('task.')).map((e) => e.type);
    expect(types).toEqual(['task.created', 'task.assigned', 'task.updated', 'task.assigned', 'task.updated', 'task.assigned', 'task.updated']);
  });

  it('keeps tasks to channel members (403) and other workspaces blind (404)', async () => {
    const task = await create();
    for (const [method, url, body] of [
      ['GET', `/channels/${channelId}/tasks`], ['GET', `/channels/${channelId}/tasks/${task.id}`], ['POST', `/channels/${channelId}/tasks`, { title: 'x' }],
      ['PATCH', `/channels/${channelId}/tasks/${task.id}`, { title: 'y' }], ['POST', `/channels/${channelId}/tasks/${task.id}/claim`],
      ['GET', `/tasks/${task.id}`], ['GET', `/tasks/${task.id}/stream`], ['POST', `/tasks/${task.id}/events`, { kind: 'log', logType: 'info', logMessage: 'x' }],
    ] as const) {
      expect((await api.call(carol.apiKey, method, url, body)).statusCode, `${method} ${url}`).toBe(403);
    }
    expect((await api.call(carol.apiKey, 'GET', '/tasks?assignee=me')).json().data).toEqual([]);
    const signup = await api.call(null, 'POST', '/auth/signup', { email: `eve-tasks-${target}@example.com`, password: 'correct horse battery', displayName: 'Eve' });
    const eve = signup.json().data.accessToken;
    for (const [method, url] of [
      ['GET', `/channels/${channelId}/tasks/${task.id}`], ['GET', `/tasks/${task.id}`], ['GET', `/tasks/${task.id}/stream`], ['POST', `/tasks/${task.id}/cancel`],
    ] as const) {
      expect((await api.call(eve, method, url)).statusCode, `${method} ${url}`).toBe(404);
    }
    // Only channel members can be assigned.
    expect((await api.call(alice.apiKey, 'POST', `/channels/${channelId}/tasks/${task.id}/assignees`, { principalId: carol.id, role: 'reviewer' })).statusCode).toBe(403);
  });

  it('announces changes on the channel stream and on assignees\' inboxes, and lists my work', async () => {
    const task = await create({ title: 'review me' });
    const added = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/tasks/${task.id}/assignees`, { principalId: bob.id, role: 'reviewer' });
    expect(added.statusCode).toBe(200);
    expect(added.json().data.assignees).toEqual([expect.objectContaining({ principalId: bob.id, role: 'reviewer', assignedBy: alice.id })]);
    expect((await patch(task.id, { title: 'review me now' })).statusCode).toBe(200);
    const inbox = (await events(`inbox:${bob.id}`, bob.apiKey)).filter((e) => e.data?.task?.id === task.id);
    expect(inbox.map((e) => e.type)).toEqual(['task.assigned', 'task.updated']);
    expect(inbox[1].data).toMatchObject({ task: { title: 'review me now' }, changes: ['title'], actorId: alice.id });
    const channel = (await events(channelId)).filter((e) => e.data?.task?.id === task.id).map((e) => e.type);
    expect(channel).toEqual(['task.created', 'task.assigned', 'task.updated']);

    const mine = (await api.call(bob.apiKey, 'GET', '/tasks?assignee=me&status=open')).json().data as { id: string }[];
    expect(mine.map((t) => t.id)).toContain(task.id);
    expect((await api.call(alice.apiKey, 'GET', '/tasks?assignee=me')).json().data.map((t: { id: string }) => t.id)).not.toContain(task.id);

    const removed = await api.call(alice.apiKey, 'DELETE', `/channels/${channelId}/tasks/${task.id}/assignees/${bob.id}`);
    expect(removed.json().data.assignees).toEqual([]);
    const last = (await events(`inbox:${bob.id}`, bob.apiKey)).filter((e) => e.data?.task?.id === task.id).at(-1);
    expect(last).toMatchObject({ type: 'task.assigned', data: { principalId: bob.id, assigned: false } });
    expect((await api.call(bob.apiKey, 'GET', '/tasks?assignee=me&status=open')).json().data.map((t: { id: string }) => t.id)).not.toContain(task.id);
  });

  it('creates one task channel with the creator and assignees, linked both ways', async () => {
    const task = await create({ title: 'needs a room' });
    await api.call(alice.apiKey, 'POST', `/channels/${channelId}/tasks/${task.id}/assignees`, { principalId: bob.id, role: 'reviewer' });
    const res = await api.call(bob.apiKey, 'POST', `/channels/${channelId}/tasks/${task.id}/channel`);
    expect(res.statusCode).toBe(201);
    expect(res.json().data).toMatchObject({ kind: 'task', name: 'needs a room' });
    expect(res.json().data.memberIds.sort()).toEqual([alice.id, bob.id].sort());
    const again = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/tasks/${task.id}/channel`);
    expect(again.statusCode).toBe(200);
    expect(again.json().data.id).toBe(res.json().data.id);
    expect((await api.call(alice.apiKey, 'GET', `/tasks/${task.id}`)).json().data.taskChannelId).toBe(res.json().data.id);
  });
});
