import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { bootstrapFirstAdmin } from '../src/shared/bootstrap.js';
import { createLogger } from '../src/shared/logger.js';
import { randomKey, startTestApi, type TestApi } from './support/api.js';
import { createTestContext } from './support/context.js';
import { targets } from './support/targets.js';

describe.each(targets())('audit log on %s', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target); });
  afterAll(() => api?.close());

  it('records security actions in a hash chain that verifies, with no secrets in it', async () => {
    const agent = await api.createAgent('audited');
    const key = (await api.call(agent.apiKey, 'POST', '/keys', { name: 'k2' })).json().data;
    await api.call(agent.apiKey, 'DELETE', `/keys/${key.key.id}`);
    const entries = (await api.call(api.adminKey, 'GET', '/audit?limit=100')).json().data;
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['api_key.revoked', 'api_key.created', 'agent.created', 'setup.bootstrap']);
    const dump = JSON.stringify(entries);
    for (const secret of [api.adminKey, agent.apiKey, key.apiKey]) expect(dump).not.toContain(secret);
    expect((await api.call(api.adminKey, 'GET', '/audit/verify')).json().data).toEqual({ valid: true, entries: 4, firstInvalidId: null });
    expect((await api.call(agent.apiKey, 'GET', '/audit')).statusCode).toBe(403);
  });

  it('is append-only in the database, and tampering is detected', async () => {
    await expect(sql`UPDATE audit_log SET action = 'nothing.happened'`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    await expect(sql`DELETE FROM audit_log`.execute(api.ctx.db)).rejects.toThrow(/append-only/);
    // A thief with DDL rights could drop the trigger: the chain still exposes the edit.
    await sql`ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`.execute(api.ctx.db);
    await sql`UPDATE audit_log SET data = '{"forged":true}'::jsonb WHERE action = 'agent.created'`.execute(api.ctx.db);
    await sql`ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update`.execute(api.ctx.db);
    const verdict = (await api.call(api.adminKey, 'GET', '/audit/verify')).json().data;
    expect(verdict.valid).toBe(false);
    expect(verdict.firstInvalidId).not.toBeNull();
  });
});

describe('structured logs', () => {
  it('are JSON lines and never contain credentials', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(...chunk.toString().trim().split('\n')); done(); } });
    const ctx = await createTestContext('pglite', { LOG_LEVEL: 'debug' });
    const logged = { ...ctx, logger: createLogger('debug', 'test', sink) };
    const adminKey = randomKey();
    await bootstrapFirstAdmin(logged.db, logged.logger, adminKey);
    const app = await buildApp(logged);
    try {
      const agent = await app.inject({ method: 'POST', url: '/api/v1/agents', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, payload: { handle: 'logged' } });
      const agentKey = agent.json().data.apiKey;
      await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': agentKey } });
      await app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': 'application/json' }, payload: { email: 'a@example.com', password: 'hunter2hunter2' } });
      await app.inject({ method: 'GET', url: `/api/v1/events?token=${agentKey}` });
      expect(lines.length).toBeGreaterThan(3);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      const all = lines.join('\n');
      for (const secret of [adminKey, agentKey, 'hunter2hunter2']) expect(all).not.toContain(secret);
    } finally {
      await app.close();
      await ctx.close();
    }
  });
});
