import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { bootstrapFirstAdmin } from '../src/shared/bootstrap.js';
import { generateApiKey } from '../src/shared/auth/secrets.js';
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

// Rows exactly as earlier versions stored them (their hashes were computed by the code this
// log shipped with first); every later version must keep verifying them and chain onto them.
const LEGACY_WORKSPACE = 'ws_legacy';
const legacyRows = [
  { actor_id: null, action: 'setup.bootstrap', target_type: 'principal', target_id: 'pr_admin', data: { keyPrefix: 'sk_AbCdEfG' }, at: '2025-11-02T09:15:00.123Z',
    prev_hash: '0'.repeat(64), hash: '7a41a78e1e68956a07de7ae3b5a2038137f0ffd25e2115e0284ca6e886c0f92a' },
  { actor_id: 'pr_admin', action: 'agent.created', target_type: 'principal', target_id: 'pr_agent', data: { handle: 'déjà-vu', keyPrefix: 'sk_HiJkLmN' }, at: '2025-11-02T09:16:30.000Z',
    prev_hash: '7a41a78e1e68956a07de7ae3b5a2038137f0ffd25e2115e0284ca6e886c0f92a', hash: 'fec3ba49cd8d64fcb09fad0bb24e7d08ec89f4f908f998d4650f6b068ba13f96' },
  { actor_id: 'pr_agent', action: 'api_key.created', target_type: 'api_key', target_id: 'key_2', data: { principalId: 'pr_agent', prefix: 'sk_OpQrStU', scopes: ['read', 'write'] }, at: '2025-11-02T09:17:45.500Z',
    prev_hash: 'fec3ba49cd8d64fcb09fad0bb24e7d08ec89f4f908f998d4650f6b068ba13f96', hash: '0e729465bb49ce2ffb8f4df6ecd2a219c73fc13bf00200e0cd7ff9cee1c0324c' },
];

describe.each(targets())('audit log stored by an earlier version on %s', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target); });
  afterAll(() => api?.close());

  it('still verifies, and new entries chain onto it', async () => {
    const key = generateApiKey();
    await api.ctx.db.insertInto('workspaces').values({ id: LEGACY_WORKSPACE, name: 'Legacy', settings: '{}', created_at: new Date() }).execute();
    await api.ctx.db.insertInto('principals').values({
      id: 'pr_admin', workspace_id: LEGACY_WORKSPACE, kind: 'human', handle: 'legacy-admin', display_name: 'Legacy admin',
      email: null, password_hash: null, public_key: null, is_admin: true, created_at: new Date(),
    }).execute();
    await api.ctx.db.insertInto('api_keys').values({
      id: 'key_legacy', workspace_id: LEGACY_WORKSPACE, principal_id: 'pr_admin', name: 'legacy', prefix: key.prefix, key_hash: key.hash,
      scopes: JSON.stringify(['*']), rate_limit_per_minute: null, expires_at: null, created_at: new Date(),
    }).execute();
    for (const row of legacyRows) {
      await api.ctx.db.insertInto('audit_log').values({ ...row, workspace_id: LEGACY_WORKSPACE, data: JSON.stringify(row.data) }).execute();
    }
    expect((await api.call(key.key, 'GET', '/audit/verify')).json().data).toEqual({ valid: true, entries: 3, firstInvalidId: null });

    expect((await api.call(key.key, 'POST', '/agents', { handle: 'after-upgrade' })).statusCode).toBe(201);
    const entries = (await api.call(key.key, 'GET', '/audit')).json().data;
    expect(entries.map((e: { action: string }) => e.action)).toEqual(['agent.created', 'api_key.created', 'agent.created', 'setup.bootstrap']);
    expect(entries[0].prevHash).toBe(legacyRows[2].hash);
    expect((await api.call(key.key, 'GET', '/audit/verify')).json().data).toEqual({ valid: true, entries: 4, firstInvalidId: null });
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
