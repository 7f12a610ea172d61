import { inboxStream } from '@sesamespace/sdk/protocol';
import { generateMasterKey, ManualClock, verifyTotp } from '@sesamespace/vault';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireDueLeases } from '../src/worker/lease-expiry.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

const PASSWORD = 'pa55-w0rd-for-the-vault-7c1e';
// RFC 6238's test secret ("12345678901234567890"), base32.
const TOTP_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe.each(targets())('vault service on %s', (target) => {
  let api: TestApi;
  let adminId: string;
  let agent: { id: string; apiKey: string };
  let other: { id: string; apiKey: string };
  let vaultId: string;
  let itemId: string;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_VAULT_KEY: generateMasterKey() });
    adminId = (await api.call(api.adminKey, 'GET', '/auth/me')).json().data.id;
    agent = await api.createAgent('borrower');
    other = await api.createAgent('bystander');
    const vault = await api.call(api.adminKey, 'POST', '/vaults', { name: 'Production', description: 'prod creds', maxLeaseTtlSeconds: 1800 });
    expect(vault.statusCode).toBe(201);
    vaultId = vault.json().data.id;
    expect(vault.json().data).toMatchObject({ name: 'Production', maxLeaseTtlSeconds: 1800, role: 'owner', maskingPolicy: { alwaysMask: [], neverMask: [] } });
    const item = await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, {
      title: 'Prod DB', type: 'login', hostname: 'db.example.com', tags: ['postgres', 'prod'],
      fields: { username: 'app', password: PASSWORD, url: 'postgres://db.example.com/app', totp: TOTP_SECRET },
    });
    expect(item.statusCode).toBe(201);
    itemId = item.json().data.id;
    expect(item.json().data.fieldKeys).toEqual(['password', 'totp', 'url', 'username']);
    expect(item.body).not.toContain(PASSWORD);
    await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/members`, { principalId: agent.id, role: 'requester' });
    await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/members`, { principalId: other.id, role: 'requester' });
  });
  afterAll(() => api?.close());

  const requestLease = async (key = agent.apiKey, body: Record<string, unknown> = {}) => {
    const res = await api.call(key, 'POST', '/vaults/leases', { itemId, reason: 'migration', ...body });
    expect(res.statusCode).toBe(201);
    return res.json().data as { id: string; status: string; expiresAt: string | null; ttlSeconds: number };
  };

  it('lists a vault\'s members to its members and admins, and to no one else', async () => {
    const members = (key: string) => api.call(key, 'GET', `/vaults/${vaultId}/members`);
    const listed = (await members(agent.apiKey)).json().data.map((m: { principalId: string; role: string }) => [m.principalId, m.role]);
    expect(listed).toEqual(expect.arrayContaining([[agent.id, 'requester'], [other.id, 'requester']]));
    expect(listed).toHaveLength(3); // the admin who created it is its owner
    expect(listed.filter(([, role]: string[]) => role === 'owner')).toHaveLength(1);
    expect((await members(api.adminKey)).statusCode).toBe(200);
    const outsider = await api.createAgent('outsider-members');
    expect((await members(outsider.apiKey)).statusCode).toBe(404);
    expect((await api.call(api.adminKey, 'GET', '/vaults/vlt_nope/members')).statusCode).toBe(404);
  });

  it('lists, searches (never over values) and masks', async () => {
    expect((await api.call(agent.apiKey, 'GET', '/vaults')).json().data.map((v: { id: string }) => v.id)).toEqual([vaultId]);
    const search = async (q: string) => (await api.call(agent.apiKey, 'GET', `/vaults/${vaultId}/items?q=${encodeURIComponent(q)}`)).json().data.length;
    expect(await search('prod db')).toBe(1);
    expect(await search('postgres')).toBe(1);
    expect(await search('example.com')).toBe(1);
    expect(await search(PASSWORD.slice(0, 8))).toBe(0);
    expect(await search('100%')).toBe(0);
    expect((await api.call(agent.apiKey, 'GET', `/vaults/${vaultId}/items?type=api_key`)).json().data).toEqual([]);

    const details = (await api.call(agent.apiKey, 'GET', `/vaults/items/${itemId}`)).json().data;
    expect(details.fieldKeys).toEqual(['password', 'totp', 'url', 'username']);
    expect(details.fieldHints).toEqual({ password: '••••7c1e', totp: '••••QOJQ', url: 'postgres://db.example.com/app', username: 'app' });

    const policy = await api.call(api.adminKey, 'PUT', `/vaults/${vaultId}/masking-policy`, { alwaysMask: ['username'], neverMask: [] });
    expect(policy.statusCode).toBe(200);
    expect((await api.call(agent.apiKey, 'GET', `/vaults/items/${itemId}`)).json().data.fieldHints.username).toBe('••••');
    await api.call(api.adminKey, 'PUT', `/vaults/${vaultId}/masking-policy`, { alwaysMask: [], neverMask: [] });
  });

  it('reveals to owners and editors only, auditing who and which fields without values', async () => {
    expect((await api.call(agent.apiKey, 'POST', `/vaults/items/${itemId}/reveal`, {})).statusCode).toBe(403);
    const all = await api.call(api.adminKey, 'POST', `/vaults/items/${itemId}/reveal`, {});
    expect(all.statusCode).toBe(200);
    expect(all.headers['cache-control']).toBe('no-store');
    expect(all.json().data.fields).toEqual({ username: 'app', password: PASSWORD, url: 'postgres://db.example.com/app', totp: TOTP_SECRET });
    const one = await api.call(api.adminKey, 'POST', `/vaults/items/${itemId}/reveal`, { fields: ['password'] });
    expect(one.json().data.fields).toEqual({ password: PASSWORD });
    const audit = await api.ctx.db.selectFrom('audit_log').selectAll().where('action', '=', 'vault.item_revealed').orderBy('id').execute();
    expect(audit.map((a) => [a.actor_id, a.target_id, a.data.fieldKeys])).toEqual([
      [adminId, itemId, ['password', 'totp', 'url', 'username']], [adminId, itemId, ['password']],
    ]);
    expect(JSON.stringify(audit)).not.toContain(PASSWORD);
  });

  it('generates the RFC 6238 code of the stored secret without returning it', async () => {
    const res = await api.call(api.adminKey, 'POST', `/vaults/items/${itemId}/totp`, {});
    expect(res.statusCode).toBe(200);
    const { code, expiresIn, period } = res.json().data;
    expect(period).toBe(30);
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(30);
    expect(verifyTotp(TOTP_SECRET, code, { window: 1 })).toBe(true);
    expect(res.body).not.toContain(TOTP_SECRET);
    expect((await api.call(agent.apiKey, 'POST', `/vaults/items/${itemId}/totp`, {})).statusCode).toBe(403);
  });

  it('runs a lease from request to revocation, with events to approvers and requester', async () => {
    const lease = await requestLease();
    expect(lease.status).toBe('pending');
    const requests = await api.ctx.db.selectFrom('events').selectAll().where('type', '=', 'vault.lease_request').where('stream', '=', inboxStream(adminId)).execute();
    expect(requests.map((e) => (e.data as { lease: { id: string } }).lease.id)).toContain(lease.id);
    const request = requests.find((e) => (e.data as { lease: { id: string } }).lease.id === lease.id);
    expect(request?.data).toMatchObject({ item: { id: itemId, title: 'Prod DB' }, vault: { id: vaultId, name: 'Production' }, requester: { id: agent.id, handle: 'borrower' } });
    // The requester cannot approve, reveal or use it yet.
    expect((await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/approve`, {})).statusCode).toBe(403);
    expect((await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/use`)).statusCode).toBe(409);
    expect((await api.call(agent.apiKey, 'GET', '/vaults/leases?status=pending')).json().data.map((l: { id: string }) => l.id)).toContain(lease.id);

    const approved = await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, { ttlSeconds: 600 });
    expect(approved.json().data).toMatchObject({ status: 'approved', decidedBy: adminId, ttlSeconds: 600 });
    const used = await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/use`);
    expect(used.statusCode).toBe(200);
    expect(used.json().data.fields.password).toBe(PASSWORD);
    // Another agent, even a member of the vault, cannot use it.
    expect((await api.call(other.apiKey, 'POST', `/vaults/leases/${lease.id}/use`)).statusCode).toBe(404);
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/use`)).statusCode).toBe(403);

    expect((await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/revoke`)).json().data.status).toBe('revoked');
    const after = await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/use`);
    expect(after.statusCode).toBe(409);
    expect(after.headers['content-type']).toContain('application/problem+json');
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, {})).statusCode).toBe(409);

    const updates = await api.ctx.db.selectFrom('events').selectAll().where('type', '=', 'vault.lease_updated').where('stream', '=', inboxStream(agent.id)).orderBy('seq').execute();
    const mine = updates.map((e) => (e.data as { lease: { id: string; status: string } }).lease).filter((l) => l.id === lease.id).map((l) => l.status);
    expect(mine).toEqual(['approved', 'active', 'revoked']);
    const actions = (await api.ctx.db.selectFrom('audit_log').select('action').where('target_id', '=', lease.id).orderBy('id').execute()).map((a) => a.action);
    expect(actions).toEqual(['vault.lease_requested', 'vault.lease_approved', 'vault.secret_used', 'vault.lease_revoked']);
  });

  it('refuses a TTL above the vault\'s max, and caps renewals at the max from now', async () => {
    expect((await api.call(agent.apiKey, 'POST', '/vaults/leases', { itemId, reason: 'x', ttlSeconds: 1801 })).statusCode).toBe(422);
    const lease = await requestLease(agent.apiKey, { ttlSeconds: 60 });
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, { ttlSeconds: 1801 })).statusCode).toBe(422);
    await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, {});
    const before = Date.now();
    const renewed = (await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/renew`, { ttlSeconds: 86_400 })).json().data;
    const expiresIn = Date.parse(renewed.expiresAt) - before;
    expect(expiresIn).toBeGreaterThan(1700_000);
    expect(expiresIn).toBeLessThanOrEqual(1800_000 + 5_000);
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/renew`, { ttlSeconds: 60 })).statusCode).toBe(403);
  });

  it('one denial ends a request', async () => {
    const lease = await requestLease();
    const denied = await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/deny`, { reason: 'not today' });
    expect(denied.json().data).toMatchObject({ status: 'denied', decisionNote: 'not today' });
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, {})).statusCode).toBe(409);
    expect((await api.call(agent.apiKey, 'POST', `/vaults/leases/${lease.id}/use`)).statusCode).toBe(409);
  });

  it('50 concurrent approvals and denials of one lease leave exactly one outcome', async () => {
    const owner = await api.createAgent('co-owner');
    await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/members`, { principalId: owner.id, role: 'owner' });
    const lease = await requestLease();
    const calls = Array.from({ length: 50 }, (_, i) => api.call(i % 2 ? owner.apiKey : api.adminKey, 'POST', `/vaults/leases/${lease.id}/${i % 3 ? 'approve' : 'deny'}`, {}));
    const statuses = (await Promise.all(calls)).map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
    const row = await api.ctx.db.selectFrom('vault_leases').selectAll().where('id', '=', lease.id).executeTakeFirstOrThrow();
    expect(['approved', 'denied']).toContain(row.status);
    const decisions = await api.ctx.db.selectFrom('audit_log').select('action').where('target_id', '=', lease.id).where('action', 'in', ['vault.lease_approved', 'vault.lease_denied']).execute();
    expect(decisions).toHaveLength(1);
  });

  it('checks the TTL at every use, and the worker expires pending requests and lapsed leases (SKIP LOCKED, injected clock)', async () => {
    const active = await requestLease();
    await api.call(api.adminKey, 'POST', `/vaults/leases/${active.id}/approve`, { ttlSeconds: 60 });
    expect((await api.call(agent.apiKey, 'POST', `/vaults/leases/${active.id}/use`)).statusCode).toBe(200);
    // Past its expiry and not swept yet: the use itself refuses it and records the expiry.
    await sql`UPDATE vault_leases SET expires_at = now() - interval '1 second' WHERE id = ${active.id}`.execute(api.ctx.db);
    const late = await api.call(agent.apiKey, 'POST', `/vaults/leases/${active.id}/use`);
    expect(late.statusCode).toBe(409);
    expect(late.json().leaseStatus).toBe('expired');
    expect((await api.ctx.db.selectFrom('vault_leases').select('status').where('id', '=', active.id).executeTakeFirstOrThrow()).status).toBe('expired');

    const pending = await requestLease();
    const approved = await requestLease();
    await api.call(api.adminKey, 'POST', `/vaults/leases/${approved.id}/approve`, { ttlSeconds: 120 });
    const clock = new ManualClock(Date.now());
    expect(await expireDueLeases(api.ctx, clock)).toBe(0);
    clock.advance(121_000);
    const statusOf = async (id: string) => (await api.ctx.db.selectFrom('vault_leases').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;
    await expireDueLeases(api.ctx, clock);
    expect([await statusOf(pending.id), await statusOf(approved.id)]).toEqual(['pending', 'expired']);
    clock.advance(24 * 3600 * 1000);
    await expireDueLeases(api.ctx, clock);
    expect(await statusOf(pending.id)).toBe('expired');
    const expiredEvents = await api.ctx.db.selectFrom('events').select('data').where('type', '=', 'vault.lease_updated').where('stream', '=', inboxStream(agent.id)).execute();
    const expiredIds = expiredEvents.map((e) => (e.data as { lease: { id: string; status: string } }).lease).filter((l) => l.status === 'expired').map((l) => l.id);
    expect(expiredIds).toEqual(expect.arrayContaining([active.id, pending.id, approved.id]));
  });

  it('refuses an unknown broker policy key with 422 and keeps a valid policy', async () => {
    const bad = await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, { title: 'gh', type: 'api_key', fields: { token: PASSWORD }, policy: { allowed_methods: ['GET'], rate: 1 } });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().detail).toContain('unknown key "rate"');
    expect(bad.body).not.toContain(PASSWORD);
    const good = await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, { title: 'gh', type: 'api_key', hostname: 'api.github.com', fields: { token: PASSWORD }, policy: {} });
    expect(good.json().data).toMatchObject({ policy: {}, injection: { mode: 'bearer' }, hostname: 'api.github.com' });
    const patched = await api.call(api.adminKey, 'PATCH', `/vaults/items/${good.json().data.id}`, { policy: { denied_paths: ['/admin/**'] }, injection: { mode: 'header', name: 'X-Api-Key' } });
    expect(patched.json().data).toMatchObject({ policy: { denied_paths: ['/admin/**'] }, injection: { mode: 'header', name: 'X-Api-Key' } });
    expect((await api.call(api.adminKey, 'PATCH', `/vaults/items/${good.json().data.id}`, { injection: { mode: 'query' } })).statusCode).toBe(422);
  });

  it('updates fields in place and deletes items', async () => {
    const created = (await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, { title: 'tmp', type: 'custom', fields: { a: '1', b: '2' } })).json().data;
    const patched = await api.call(api.adminKey, 'PATCH', `/vaults/items/${created.id}`, { fields: { b: 'two', c: '3' }, removeFields: ['a'] });
    expect(patched.json().data.fieldKeys).toEqual(['b', 'c']);
    expect((await api.call(api.adminKey, 'POST', `/vaults/items/${created.id}/reveal`, {})).json().data.fields).toEqual({ b: 'two', c: '3' });
    expect((await api.call(api.adminKey, 'DELETE', `/vaults/items/${created.id}`)).statusCode).toBe(204);
    expect((await api.call(api.adminKey, 'GET', `/vaults/items/${created.id}`)).statusCode).toBe(404);
  });

  it('fails closed on tampered ciphertext: a Problem Details error and no field at all', async () => {
    const created = (await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, { title: 'tampered', type: 'login', fields: { username: 'u', password: PASSWORD } })).json().data;
    const row = await api.ctx.db.selectFrom('vault_items').select('sealed').where('id', '=', created.id).executeTakeFirstOrThrow();
    const ct = Buffer.from(row.sealed.fields.password.ct, 'base64');
    ct[0] ^= 1;
    const tampered = { ...row.sealed, fields: { ...row.sealed.fields, password: { ...row.sealed.fields.password, ct: ct.toString('base64') } } };
    await api.ctx.db.updateTable('vault_items').set({ sealed: JSON.stringify(tampered) }).where('id', '=', created.id).execute();
    for (const [method, url] of [['POST', `/vaults/items/${created.id}/reveal`], ['GET', `/vaults/items/${created.id}`]] as const) {
      const res = await api.call(api.adminKey, method, url, method === 'POST' ? {} : undefined);
      expect(res.statusCode).toBe(500);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ type: 'urn:sesame:error:internal-error', vaultError: 'decrypt_failed' });
      expect(res.body).not.toContain('"u"');
      expect(res.json().data).toBeUndefined();
    }
  });
});

describe.each(targets())('vault under a wrong master key on %s', (target) => {
  it('opens nothing and answers Problem Details', async () => {
    const first = await startTestApi(target, { SESAME_VAULT_KEY: generateMasterKey() });
    try {
      const vault = (await first.call(first.adminKey, 'POST', '/vaults', { name: 'v' })).json().data;
      const item = (await first.call(first.adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 't', type: 'login', fields: { password: PASSWORD } })).json().data;
      // The same database read by a server holding another key.
      const { buildApp } = await import('../src/api/app.js');
      const { loadConfig } = await import('../src/shared/config.js');
      const config = loadConfig({ ...first.ctx.config, SESAME_VAULT_KEY: generateMasterKey() } as unknown as Record<string, string>);
      const app = await buildApp({ ...first.ctx, config });
      try {
        const res = await app.inject({ method: 'POST', url: `/api/v1/vaults/items/${item.id}/reveal`, headers: { authorization: `Bearer ${first.adminKey}`, 'content-type': 'application/json' }, payload: '{}' });
        expect(res.statusCode).toBe(500);
        expect(res.json()).toMatchObject({ type: 'urn:sesame:error:internal-error', vaultError: 'decrypt_failed' });
        expect(res.body).not.toContain(PASSWORD);
      } finally {
        await app.close();
      }
    } finally {
      await first.close();
    }
  }, 120_000);
});
