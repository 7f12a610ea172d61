import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { generateMasterKey } from '@sesamespace/vault';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

type Agent = { id: string; apiKey: string };

describe.each(targets())('capabilities, discovery, manifest and agent cards on %s', (target) => {
  let api: TestApi;
  let reviewer: Agent;
  let writer: Agent;
  let boss: Agent;
  let foreignAdmin: string;
  let foreignAgent: Agent;

  beforeAll(async () => {
    api = await startTestApi(target, {
      SESAME_ALLOW_SIGNUP: 'true', SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000', SESAME_VAULT_KEY: generateMasterKey(),
    });
    reviewer = await api.createAgent('reviewer', { displayName: 'Rita Reviewer' });
    writer = await api.createAgent('writer');
    boss = await api.createAgent('boss');
    // A second workspace whose agent registers the very same capability.
    const signup = await api.call(null, 'POST', '/auth/signup', { email: `other-${target}@example.com`, password: 'correct horse battery', displayName: 'Other' });
    foreignAdmin = signup.json().data.accessToken;
    const created = await api.call(foreignAdmin, 'POST', '/agents', { handle: 'foreign-reviewer' });
    foreignAgent = { id: created.json().data.agent.id, apiKey: created.json().data.apiKey };
  });
  afterAll(() => api?.close());

  const register = (agent: Agent, capabilities: unknown[]) => api.call(agent.apiKey, 'PUT', '/capabilities', { capabilities });

  it('registers capabilities, replacing the set each time, and validates them', async () => {
    const first = await register(reviewer, [{ namespace: 'code', name: 'typescript', description: 'Write TypeScript code' }, { namespace: 'code', name: 'lint' }]);
    expect(first.statusCode, first.body).toBe(200);
    const second = await register(reviewer, [
      { namespace: 'code', name: 'review', description: 'Review pull requests', inputSchema: { type: 'object', properties: { pr: { type: 'integer' } } } },
    ]);
    expect(second.json().data).toEqual([{ namespace: 'code', name: 'review', description: 'Review pull requests', inputSchema: { type: 'object', properties: { pr: { type: 'integer' } } } }]);
    expect((await api.call(reviewer.apiKey, 'GET', '/capabilities')).json().data.map((c: { name: string }) => c.name)).toEqual(['review']);
    expect((await register(writer, [{ namespace: 'code', name: 'x' }, { namespace: 'code', name: 'x' }])).statusCode).toBe(422);
    for (const bad of [{ namespace: 'Code', name: 'x' }, { namespace: 'code', name: 'has.dot' }, { namespace: 'code', name: '' }, { namespace: 'code', name: 'x y' }]) {
      expect((await register(writer, [bad])).statusCode, JSON.stringify(bad)).toBe(400);
    }
    expect((await register(writer, [{ namespace: 'docs', name: 'write', description: 'Writes reviewable docs' }])).statusCode).toBe(200);
    expect((await register(foreignAgent, [{ namespace: 'code', name: 'review' }])).statusCode).toBe(200);
  });

  it('discovers by capability and text within the caller\'s workspace only', async () => {
    const byCapability = (await api.call(boss.apiKey, 'GET', '/agents/discover?capability=code.review')).json().data as { id: string; online: boolean; capabilities: { name: string }[] }[];
    expect(byCapability.map((a) => a.id)).toEqual([reviewer.id]);
    expect(byCapability[0]).toMatchObject({ online: false, capabilities: [{ name: 'review' }] });
    const foreign = (await api.call(foreignAgent.apiKey, 'GET', '/agents/discover?capability=code.review')).json().data as { id: string }[];
    expect(foreign.map((a) => a.id)).toEqual([foreignAgent.id]);
    const byTextRes = await api.call(boss.apiKey, 'GET', '/agents/discover?q=review');
    expect(byTextRes.statusCode, byTextRes.body).toBe(200);
    const byText = byTextRes.json().data as { id: string }[];
    // Handle `reviewer`, and `writer` through its capability's description.
    expect(byText.map((a) => a.id).sort()).toEqual([reviewer.id, writer.id].sort());
    expect((await api.call(boss.apiKey, 'GET', '/agents/discover?q=rita')).json().data.map((a: { id: string }) => a.id)).toEqual([reviewer.id]);
    expect((await api.call(boss.apiKey, 'GET', '/agents/discover?capability=nodot')).statusCode).toBe(400);
  });

  it('ranks online agents first, and filters by online', async () => {
    const online = new Set([writer.id]);
    const app = await buildApp(api.ctx, { presence: { statuses: async (ids) => Object.fromEntries(ids.map((id) => [id, online.has(id) ? 'online' : 'offline'])) } });
    try {
      const get = async (query: string) => (await app.inject({ method: 'GET', url: `/api/v1/agents/discover${query}`, headers: { authorization: `Bearer ${boss.apiKey}` } })).json().data as { id: string; online: boolean }[];
      const all = await get('');
      expect(all[0]).toMatchObject({ id: writer.id, online: true });
      expect(all.slice(1).every((a) => !a.online)).toBe(true);
      expect((await get('?online=true')).map((a) => a.id)).toEqual([writer.id]);
      expect((await get('?online=false')).map((a) => a.id)).not.toContain(writer.id);
    } finally {
      await app.close();
    }
  });

  it('serves an agent card with skills from capabilities, never across workspaces', async () => {
    const card = await api.call(boss.apiKey, 'GET', `/agents/${reviewer.id}/card`);
    expect(card.json().data).toMatchObject({
      id: reviewer.id, name: 'Rita Reviewer', handle: 'reviewer',
      skills: [{ id: 'code.review', name: 'code.review', description: 'Review pull requests', tags: ['code'], inputSchema: { type: 'object' } }],
    });
    expect(card.json().data.description).toContain('code.review');
    expect((await api.call(foreignAgent.apiKey, 'GET', `/agents/${reviewer.id}/card`)).statusCode).toBe(404);
  });

  it('puts capabilities, collaboration context and unfinished assigned tasks in the manifest', async () => {
    const collab = await api.call(boss.apiKey, 'POST', '/channels', { kind: 'collaboration', name: 'pr-42', memberIds: [reviewer.id, writer.id], context: 'Review the auth refactor in PR #42' });
    const channelId = collab.json().data.id;
    const mk = async (title: string, priority: string) => (await api.call(boss.apiKey, 'POST', `/channels/${channelId}/tasks`, { title, priority })).json().data.id as string;
    const [open, urgent, finished, unassigned] = [await mk('open one', 'low'), await mk('urgent one', 'urgent'), await mk('finished one', 'high'), await mk('not mine', 'high')];
    for (const id of [open, urgent, finished]) await api.call(boss.apiKey, 'POST', `/channels/${channelId}/tasks/${id}/assignees`, { principalId: reviewer.id, role: 'reviewer' });
    await api.call(boss.apiKey, 'PATCH', `/channels/${channelId}/tasks/${finished}`, { status: 'in_progress' });
    await api.call(boss.apiKey, 'PATCH', `/channels/${channelId}/tasks/${finished}`, { status: 'done' });

    const manifest = (await api.call(reviewer.apiKey, 'GET', '/manifest')).json().data;
    expect(manifest.capabilities).toEqual([expect.objectContaining({ namespace: 'code', name: 'review' })]);
    expect(manifest.channels.find((c: { id: string }) => c.id === channelId)).toMatchObject({ kind: 'collaboration', context: 'Review the auth refactor in PR #42' });
    expect(manifest.pendingWork.tasks).toEqual([
      { id: urgent, channelId, title: 'urgent one', status: 'open' },
      { id: open, channelId, title: 'open one', status: 'open' },
    ]);
    expect(manifest.pendingWork.tasks.map((t: { id: string }) => t.id)).not.toContain(unassigned);
    expect(manifest.pendingWork).toMatchObject({ leaseRequests: [], overdueOccurrences: [] });
    expect((await api.call(writer.apiKey, 'GET', '/manifest')).json().data.pendingWork.tasks).toEqual([]);
  });

  it('lists lease requests I may decide and my overdue schedule runs as pending work', async () => {
    const vault = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'pending-work' })).json().data;
    const item = (await api.call(api.adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 'Key', type: 'api_key', fields: { token: 'tok-pending-work' } })).json().data;
    await api.call(api.adminKey, 'POST', `/vaults/${vault.id}/members`, { principalId: boss.id, role: 'owner' });
    await api.call(api.adminKey, 'POST', `/vaults/${vault.id}/members`, { principalId: writer.id, role: 'requester' });
    await api.call(api.adminKey, 'POST', `/vaults/${vault.id}/members`, { principalId: reviewer.id, role: 'viewer' });
    const lease = await api.call(writer.apiKey, 'POST', '/vaults/leases', { itemId: item.id, reason: 'deploy' });
    expect(lease.statusCode, lease.body).toBe(201);
    const pending = { id: lease.json().data.id, itemId: item.id, requesterId: writer.id, requestedAt: expect.any(String) };
    const work = async (key: string) => (await api.call(key, 'GET', '/manifest')).json().data.pendingWork;
    expect((await work(boss.apiKey)).leaseRequests).toEqual([pending]); // owner of the vault
    expect((await work(api.adminKey)).leaseRequests).toEqual([pending]); // workspace admin
    expect((await work(writer.apiKey)).leaseRequests).toEqual([]); // never your own request
    expect((await work(reviewer.apiKey)).leaseRequests).toEqual([]); // a viewer decides nothing
    expect((await work(foreignAgent.apiKey)).leaseRequests).toEqual([]);
    await api.call(boss.apiKey, 'POST', `/vaults/leases/${pending.id}/deny`, { reason: 'not today' });
    expect((await work(boss.apiKey)).leaseRequests).toEqual([]);

    const created = await api.call(reviewer.apiKey, 'POST', '/schedule/events', { title: 'nightly report', cronExpression: '0 2 * * *', timezone: 'UTC' });
    expect(created.statusCode, created.body).toBe(201);
    const eventId = (created.json().data.event ?? created.json().data).id as string;
    expect((await work(reviewer.apiKey)).overdueOccurrences).toEqual([]);
    const due = new Date(Date.now() - 60_000);
    await api.ctx.db.updateTable('schedule_events').set({ next_occurrence_at: due }).where('id', '=', eventId).execute();
    expect((await work(reviewer.apiKey)).overdueOccurrences).toEqual([{ eventId, title: 'nightly report', scheduledAt: due.toISOString() }]);
    expect((await work(writer.apiKey)).overdueOccurrences).toEqual([]);
  });
});
