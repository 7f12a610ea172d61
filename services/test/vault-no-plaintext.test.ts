import { generateMasterKey, ManualClock } from '@sesamespace/vault';
import { sql } from 'kysely';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/api/app.js';
import { bootstrapFirstAdmin } from '../src/shared/bootstrap.js';
import { createLogger } from '../src/shared/logger.js';
import { expireDueLeases } from '../src/worker/lease-expiry.js';
import { randomKey } from './support/api.js';
import { createTestContext, type TestContext } from './support/context.js';
import { targets } from './support/targets.js';

const SECRET = 'Zq8-known-plaintext-secret-4b1d';
const SECRET_2 = 'second-known-plaintext-9e0c';

/**
 * A known secret goes in; every vault endpoint is driven (including failures); then the logs
 * (at trace level), the audit table, the events table, every error body and every row of every
 * table are searched for it. It may exist only as ciphertext.
 */
describe.each(targets())('no vault plaintext outside the answers that hand it out, on %s', (target) => {
  let ctx: TestContext;
  const lines: string[] = [];
  const errorBodies: string[] = [];
  let call: (key: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown) => Promise<{ statusCode: number; body: string; json(): any }>;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).trim().split('\n')); done(); } });
    ctx = await createTestContext(target, { LOG_LEVEL: 'trace', SESAME_VAULT_KEY: generateMasterKey() });
    const logged = { ...ctx, logger: createLogger('trace', 'test', sink) };
    const adminKey = randomKey();
    await bootstrapFirstAdmin(logged.db, logged.logger, adminKey);
    const app = await buildApp(logged);
    call = async (key, method, url, body) => {
      const res = await app.inject({
        method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      if (res.statusCode >= 400) errorBodies.push(res.body);
      return res;
    };
    close = async () => { await app.close(); await ctx.close(); };

    const agent = (await call(adminKey, 'POST', '/agents', { handle: 'np-agent' })).json().data;
    const vault = (await call(adminKey, 'POST', '/vaults', { name: 'np' })).json().data;
    await call(adminKey, 'POST', `/vaults/${vault.id}/members`, { principalId: agent.agent.id, role: 'requester' });
    const item = (await call(adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 'np item', type: 'login', hostname: 'np.example.com', fields: { username: 'np', password: SECRET, totp: 'GEZDGNBVGY3TQOJQ' } })).json().data;
    await call(adminKey, 'GET', `/vaults/${vault.id}/items?q=${encodeURIComponent('np')}`);
    await call(adminKey, 'GET', `/vaults/items/${item.id}`);
    await call(agent.apiKey, 'GET', `/vaults/items/${item.id}`);
    await call(adminKey, 'POST', `/vaults/items/${item.id}/reveal`, {});
    await call(adminKey, 'POST', `/vaults/items/${item.id}/totp`, {});
    await call(adminKey, 'PATCH', `/vaults/items/${item.id}`, { fields: { password: SECRET_2 } });
    await call(adminKey, 'PATCH', `/vaults/items/${item.id}`, { fields: { password: SECRET } });
    await call(adminKey, 'PUT', `/vaults/${vault.id}/masking-policy`, { alwaysMask: ['username'], neverMask: [] });
    const lease = (await call(agent.apiKey, 'POST', '/vaults/leases', { itemId: item.id, reason: 'np' })).json().data;
    await call(adminKey, 'GET', '/vaults/leases');
    await call(adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, {});
    await call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/use`);
    await call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/renew`, { ttlSeconds: 60 });
    await call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/revoke`);
    const other = (await call(agent.apiKey, 'POST', '/vaults/leases', { itemId: item.id, reason: 'np 2' })).json().data;
    await call(adminKey, 'POST', `/vaults/leases/${other.id}/deny`, { reason: 'no' });
    const third = (await call(agent.apiKey, 'POST', '/vaults/leases', { itemId: item.id, reason: 'np 3' })).json().data;
    await call(adminKey, 'POST', `/vaults/leases/${third.id}/approve`, { ttlSeconds: 30 });
    await expireDueLeases(logged, new ManualClock(Date.now() + 3600_000));

    // Failures that carry the secret in their request.
    await call(agent.apiKey, 'POST', `/vaults/items/${item.id}/reveal`, { fields: ['password'] });
    await call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/use`);
    await call(adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 't', type: 'login', fields: { password: SECRET }, policy: { secret: SECRET } });
    await call(adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 't', type: 'login', fields: { password: `${SECRET}\u0000` } });
    await call(adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 't', type: 'nope', fields: { password: SECRET } });
    await call(adminKey, 'POST', `/vaults/${vault.id}/items`, `{"title":"t","type":"login","fields":{"password":"${SECRET}"`);
    await call(adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 't', type: 'login', fields: { password: SECRET }, extra: 1 });
    await call(adminKey, 'POST', '/vaults/nope/items', { title: 't', type: 'login', fields: { password: SECRET } });
    // Tampered ciphertext: the failure is logged and answered without a value.
    await sql`UPDATE vault_items SET sealed = jsonb_set(sealed, '{fields,username,ct}', to_jsonb('AAAAAAAAAAAAAAAAAAAAAAAA'::text)) WHERE id = ${item.id}`.execute(ctx.db);
    await call(adminKey, 'POST', `/vaults/items/${item.id}/reveal`, {});
  });
  afterAll(() => close());

  const leaks = (text: string) => [SECRET, SECRET_2].filter((s) => text.includes(s));

  it('drove the endpoints and their failures (sanity)', () => {
    expect(lines.length).toBeGreaterThan(20);
    expect(errorBodies.length).toBeGreaterThanOrEqual(8);
  });

  it('is not in the logs', () => { expect(leaks(lines.join('\n'))).toEqual([]); });
  it('is not in any error body', () => { expect(errorBodies.filter((b) => leaks(b).length > 0)).toEqual([]); });

  it('is not in the audit or events tables', async () => {
    const audit = await ctx.db.selectFrom('audit_log').selectAll().execute();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['vault.item_revealed', 'vault.secret_used', 'vault.lease_expired', 'vault.totp_generated']));
    expect(leaks(JSON.stringify(audit))).toEqual([]);
    const events = await ctx.db.selectFrom('events').selectAll().execute();
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['vault.lease_request', 'vault.lease_updated']));
    expect(leaks(JSON.stringify(events))).toEqual([]);
  });

  it('is nowhere in the database but as ciphertext', async () => {
    const tables = await sql<{ table_name: string }>`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`.execute(ctx.db);
    expect(tables.rows.map((t) => t.table_name)).toEqual(expect.arrayContaining(['vault_items', 'vault_leases', 'vaults', 'audit_log', 'events']));
    let dumped = 0;
    for (const { table_name } of tables.rows) {
      const rows = await sql<{ row: string }>`SELECT row_to_json(t)::text AS row FROM ${sql.table(table_name)} t`.execute(ctx.db);
      const text = rows.rows.map((r) => r.row).join('\n');
      dumped += text.length;
      expect(leaks(text), table_name).toEqual([]);
    }
    expect(dumped).toBeGreaterThan(1000);
  });
});
