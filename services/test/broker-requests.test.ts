import { generateMasterKey } from '@sesamespace/vault';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vaultActor, approveLease, createVault, createVaultItem, denyLease, listLeases, updateVaultItem, type VaultActor } from '../src/api/routes/vaults/service.js';
import { buildApp } from '../src/api/app.js';
import { bootstrapFirstAdmin } from '../src/shared/bootstrap.js';
import { createLogger } from '../src/shared/logger.js';
import { randomKey } from './support/api.js';
import { createTestContext, type TestContext } from './support/context.js';
import { startUpstream } from './support/upstream.js';
import { targets } from './support/targets.js';

const SECRET = 'tok_live_5f0c1d3e9a7b4c2d';
const BASIC_PASSWORD = 'pw-9f8e7d6c5b4a';

/** A listening api whose logs are kept, with a vault holding one secret per injection mode. */
async function startBroker(target: 'pglite' | 'postgres', env: Record<string, string> = {}) {
  const logs: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { logs.push(chunk.toString()); done(); } });
  const base = await createTestContext(target, {
    SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_VAULT_KEY: generateMasterKey(), SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_AUTH_RATE_LIMIT_PER_MINUTE: '1000', LOG_LEVEL: 'debug', ...env,
  });
  const ctx: TestContext = { ...base, logger: createLogger('debug', 'test', sink) };
  const adminKey = randomKey();
  await bootstrapFirstAdmin(ctx.db, ctx.logger, adminKey);
  const app = await buildApp(ctx);
  const apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const adminRow = await ctx.db.selectFrom('principals').selectAll().where('is_admin', '=', true).executeTakeFirstOrThrow();
  const admin = vaultActor({ principal: adminRow, via: 'token' });
  const call = async (key: string, method: string, url: string, body?: unknown) => {
    const res = await fetch(`${apiUrl}/api/v1${url}`, {
      method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  };
  return {
    ctx, app, apiUrl, adminKey, admin, logs, call,
    async close() { await app.close(); await ctx.close(); },
  };
}
type Broker = Awaited<ReturnType<typeof startBroker>>;

async function agentWithAccess(broker: Broker, handle: string, vaultId: string): Promise<{ key: string; actor: VaultActor }> {
  const res = await broker.call(broker.adminKey, 'POST', '/agents', { handle });
  const { agent, apiKey } = res.json().data;
  await broker.ctx.db.insertInto('vault_members').values({ vault_id: vaultId, principal_id: agent.id, role: 'requester', added_by: broker.admin.id, added_at: new Date() }).execute();
  const row = await broker.ctx.db.selectFrom('principals').selectAll().where('id', '=', agent.id).executeTakeFirstOrThrow();
  return { key: apiKey as string, actor: vaultActor({ principal: row, via: 'apiKey' as never }) };
}

/** Waits (polling the database, not the clock) until the agent's request is pending. */
async function pendingLeaseOf(broker: Broker, actor: VaultActor, skip: string[] = []): Promise<string> {
  for (;;) {
    const pending = await listLeases(broker.ctx.db, broker.admin, { status: 'pending' });
    const mine = pending.find((l) => l.requester_id === actor.id && !skip.includes(l.id));
    if (mine) return mine.id;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(targets())('credential broker on %s', { timeout: 90_000 }, (target) => {
  let broker: Broker;
  let upstreams: Array<Awaited<ReturnType<typeof startUpstream>>>;
  let vaultId: string;
  beforeAll(async () => {
    broker = await startBroker(target);
    upstreams = await Promise.all([startUpstream(), startUpstream(), startUpstream(), startUpstream()]);
    vaultId = (await createVault(broker.ctx, broker.admin, { name: 'apis' })).id;
    const [bearer, basic, header, query] = upstreams;
    await createVaultItem(broker.ctx, broker.admin, vaultId, { title: 'Bearer API', type: 'api_key', hostname: bearer.host, fields: { token: SECRET }, policy: { allowed_methods: ['GET'], path_rules: [{ path: '/v1/chat/**', methods: ['POST'] }] } });
    await createVaultItem(broker.ctx, broker.admin, vaultId, { title: 'Basic API', type: 'login', hostname: basic.host, fields: { username: 'ada', password: BASIC_PASSWORD }, injection: { mode: 'basic' } });
    await createVaultItem(broker.ctx, broker.admin, vaultId, { title: 'Header API', type: 'api_key', hostname: header.host, fields: { token: SECRET }, injection: { mode: 'header', name: 'X-Api-Key' } });
    await createVaultItem(broker.ctx, broker.admin, vaultId, { title: 'Query API', type: 'api_key', hostname: query.host, fields: { token: SECRET }, injection: { mode: 'query', name: 'api_key' }, policy: { denied_paths: ['/admin/**'] } });
  });
  afterAll(async () => {
    await broker.close();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  it('first use waits for approval; approved, the upstream gets the bearer token and the agent never sees it', async () => {
    const [bearer] = upstreams;
    const { key, actor } = await agentWithAccess(broker, 'first-use', vaultId);

    const hostnames = await broker.call(key, 'GET', '/broker/hostnames');
    expect(hostnames.json().data.map((h: { hostname: string }) => h.hostname)).toEqual(expect.arrayContaining(upstreams.map((u) => u.host)));
    expect(hostnames.text).not.toContain(SECRET);

    // Without waiting: 202 and a pending lease request carrying the hostname.
    const quick = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/v1/models`, waitForApproval: false });
    expect(quick.status).toBe(202);
    expect(quick.json().data).toMatchObject({ approval: 'pending', hostname: bearer.host });
    const pending = await listLeases(broker.ctx.db, broker.admin, { status: 'pending' });
    expect(pending.find((l) => l.id === quick.json().data.leaseId)).toMatchObject({ hostname: bearer.host, requester_id: actor.id });
    expect(bearer.received).toHaveLength(0);

    // Waiting: the same pending request, answered once an approver decides (choosing the duration).
    const waiting = broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/v1/models`, headers: { Authorization: 'Bearer forged', 'X-Trace': 't1' } });
    const leaseId = await pendingLeaseOf(broker, actor);
    expect(leaseId).toBe(quick.json().data.leaseId);
    await approveLease(broker.ctx, broker.admin, leaseId, { ttlSeconds: 600 });
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.json().data).toMatchObject({ status_code: 200, body: JSON.stringify({ ok: true, path: '/v1/models' }) });
    expect(bearer.received.at(-1)?.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(bearer.received.at(-1)?.headers['x-trace']).toBe('t1');
    expect(answered.text).not.toContain(SECRET);

    // Approved: later requests go straight through, and an echoing upstream cannot leak the token.
    const echoed = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/echo`, waitForApproval: false });
    expect(echoed.status).toBe(200);
    expect(echoed.text).not.toContain(SECRET);
    expect(JSON.parse(echoed.json().data.body).headers.authorization).toBe('Bearer [REDACTED]');

    // Policy: GET only, except POST under /v1/chat/** (path rules take precedence).
    const post = await broker.call(key, 'POST', '/broker/request', { method: 'POST', url: `${bearer.url}/v1/models`, body: '{}' });
    expect(post.status).toBe(403);
    expect(post.json().detail).toBe('Access denied: method POST not in allowed_methods [GET]');
    const chat = await broker.call(key, 'POST', '/broker/request', { method: 'POST', url: `${bearer.url}/v1/chat/completions`, headers: { 'Content-Type': 'application/json' }, body: '{"m":1}' });
    expect(chat.json().data.status_code).toBe(200);
    expect(bearer.received.at(-1)).toMatchObject({ method: 'POST', body: '{"m":1}' });

    // A non-2xx upstream answer is passed through as it is.
    expect((await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/status/404` })).json().data.status_code).toBe(404);

    // Never in audit or logs.
    const audit = await broker.ctx.db.selectFrom('audit_log').selectAll().execute();
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['vault.lease_requested', 'vault.lease_approved', 'vault.secret_used', 'broker.request']));
    expect(JSON.stringify(audit)).not.toContain(SECRET);
    expect(broker.logs.join('')).not.toContain(SECRET);
  });

  it('attaches basic, header and query credentials and strips what the agent sent', async () => {
    const [, basic, header, query] = upstreams;
    const { key, actor } = await agentWithAccess(broker, 'modes', vaultId);
    for (const upstream of [basic, header, query]) {
      const waiting = broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${upstream.url}/data?x=1&api_key=forged`, headers: { 'X-Api-Key': 'forged', Cookie: 'a=b' } });
      await approveLease(broker.ctx, broker.admin, await pendingLeaseOf(broker, actor), { ttlSeconds: 300 });
      const res = await waiting;
      expect(res.json().data.status_code).toBe(200);
      expect(res.text).not.toContain(SECRET);
      expect(res.text).not.toContain(BASIC_PASSWORD);
    }
    expect(basic.received.at(-1)?.headers.authorization).toBe(`Basic ${Buffer.from(`ada:${BASIC_PASSWORD}`).toString('base64')}`);
    expect(header.received.at(-1)?.headers['x-api-key']).toBe(SECRET);
    expect(header.received.at(-1)?.headers.authorization).toBeUndefined();
    expect(query.received.at(-1)?.url).toBe(`/data?x=1&api_key=${SECRET}`);
    for (const upstream of [basic, header, query]) expect(upstream.received.at(-1)?.headers.cookie).toBeUndefined();

    const denied = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${query.url}/admin/users` });
    expect(denied.status).toBe(403);
    expect(denied.json().detail).toBe('Access denied: path /admin/users matches denied_paths [/admin/**]');
  });

  it('a denied or expired request is a 403, and the next request asks again', async () => {
    const [bearer] = upstreams;
    const { key, actor } = await agentWithAccess(broker, 'denied', vaultId);
    const waiting = broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/v1/x` });
    await denyLease(broker.ctx, broker.admin, await pendingLeaseOf(broker, actor));
    const denied = await waiting;
    expect(denied.status).toBe(403);
    const first = (await listLeases(broker.ctx.db, actor, { status: 'denied' }))[0].id;
    expect(denied.json().detail).toContain('was denied');

    // The pending request's decision window runs out while waiting.
    const again = broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/v1/x` });
    const second = await pendingLeaseOf(broker, actor, [first]);
    await broker.ctx.db.updateTable('vault_leases').set({ pending_expires_at: new Date(Date.now() - 1000) }).where('id', '=', second).execute();
    const expired = await again;
    expect(expired.status).toBe(403);
    expect(expired.json().detail).toContain('expired');

    // An approved lease past its TTL no longer lets requests through: a new request is pending.
    const third = broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/v1/x` });
    const thirdId = await pendingLeaseOf(broker, actor, [first, second]);
    await approveLease(broker.ctx, broker.admin, thirdId, { ttlSeconds: 60 });
    expect((await third).status).toBe(200);
    await broker.ctx.db.updateTable('vault_leases').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', thirdId).execute();
    const after = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${bearer.url}/v1/x`, waitForApproval: false });
    expect(after.status).toBe(202);
    expect(after.json().data.leaseId).not.toBe(thirdId);
  });

  it('an item changed between requests is brokered with its new credential, injection and policy', async () => {
    const upstream = await startUpstream();
    try {
      const item = await createVaultItem(broker.ctx, broker.admin, vaultId, { title: 'Rotating API', type: 'api_key', hostname: upstream.host, fields: { token: 'tok_old_0a1b2c3d' } });
      const { key, actor } = await agentWithAccess(broker, 'rotating', vaultId);
      const send = () => broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${upstream.url}/v1/echo` });
      const first = send();
      await approveLease(broker.ctx, broker.admin, await pendingLeaseOf(broker, actor), { ttlSeconds: 600 });
      expect((await first).json().data.status_code).toBe(200);
      // Active lease: the credential opened for this item is reused while the item is unchanged.
      expect((await send()).json().data.status_code).toBe(200);
      expect(upstream.received.map((r) => r.headers.authorization)).toEqual(['Bearer tok_old_0a1b2c3d', 'Bearer tok_old_0a1b2c3d']);

      await updateVaultItem(broker.ctx, broker.admin, item.id, { fields: { token: 'tok_new_4e5f6a7b' } });
      const rotated = await send();
      expect(upstream.received.at(-1)?.headers.authorization).toBe('Bearer tok_new_4e5f6a7b');
      expect(rotated.text).not.toContain('tok_new_4e5f6a7b');

      await updateVaultItem(broker.ctx, broker.admin, item.id, { injection: { mode: 'header', name: 'X-Api-Key' } });
      await send();
      expect(upstream.received.at(-1)?.headers['x-api-key']).toBe('tok_new_4e5f6a7b');
      expect(upstream.received.at(-1)?.headers.authorization).toBeUndefined();

      await updateVaultItem(broker.ctx, broker.admin, item.id, { policy: { allowed_methods: ['POST'] } });
      const denied = await send();
      expect(denied.status).toBe(403);
      expect(denied.json().detail).toBe('Access denied: method GET not in allowed_methods [POST]');
      expect(upstream.received).toHaveLength(4);
    } finally {
      await upstream.close();
    }
  });

  it('refuses blocked destinations and unknown hostnames, and hides vaults the caller is not in', async () => {
    const { key } = await agentWithAccess(broker, 'ssrf', vaultId);
    const metadata = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: 'http://169.254.169.254/latest/meta-data/' });
    expect(metadata.status).toBe(403);
    expect(metadata.json().detail).toContain('Access denied: destination refused');
    const scheme = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: 'file:///etc/passwd' });
    expect(scheme.status).toBe(403);
    const unknown = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: 'https://api.unknown.example/v1' });
    expect(unknown.status).toBe(404);
    expect(unknown.json().detail).toBe('No secret configured for hostname api.unknown.example');

    const outsider = (await broker.call(broker.adminKey, 'POST', '/agents', { handle: 'outsider' })).json().data.apiKey as string;
    expect((await broker.call(outsider, 'GET', '/broker/hostnames')).json().data).toEqual([]);
    expect((await broker.call(outsider, 'POST', '/broker/request', { method: 'GET', url: `${upstreams[0].url}/v1/x` })).status).toBe(404);
  });
});

describe('credential broker approval wait limit', () => {
  it('answers 403 when nobody decides within SESAME_BROKER_APPROVAL_WAIT_SECONDS; the request stays pending', { timeout: 120_000 }, async () => {
    const broker = await startBroker('pglite', { SESAME_BROKER_APPROVAL_WAIT_SECONDS: '1' });
    const upstream = await startUpstream();
    try {
      const vault = await createVault(broker.ctx, broker.admin, { name: 'v' });
      await createVaultItem(broker.ctx, broker.admin, vault.id, { title: 'x', type: 'api_key', hostname: upstream.host, fields: { token: SECRET } });
      const { key, actor } = await agentWithAccess(broker, 'impatient', vault.id);
      const res = await broker.call(key, 'POST', '/broker/request', { method: 'GET', url: `${upstream.url}/x` });
      expect(res.status).toBe(403);
      expect(res.json().detail).toContain('nobody approved access');
      expect((await listLeases(broker.ctx.db, actor, { status: 'pending' })).length).toBe(1);
      expect(upstream.received).toHaveLength(0);
    } finally {
      await broker.close();
      await upstream.close();
    }
  });
});
