import { generateMasterKey } from '@sesamespace/vault';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HOSTNAME_LEASE_CACHE_TTL_MS, HostnameLeaseCache, hostnameLeaseCache, type HostnameLease } from '../src/api/routes/vaults/hostname-lease-cache.js';
import type { VaultActor } from '../src/api/routes/vaults/service.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startUpstream } from './support/upstream.js';

/**
 * On the embedded default the broker remembers, for a second at most, which item and active
 * lease a caller's host resolves to. Every change that withdraws access, made through this
 * process, must count from the very next request: each case below first checks that the
 * look-up is cached, then makes the change, then expects the next request refused.
 */
describe('broker: remembered item and lease look-ups (embedded default)', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let api: TestApi;
  let agent: { id: string; apiKey: string };
  let actor: VaultActor;
  let vaultId: string;
  let itemId: string;
  let leaseId: string;

  beforeAll(async () => { upstream = await startUpstream(); });
  afterAll(async () => { await upstream.close(); });

  beforeEach(async () => {
    api = await startTestApi('pglite', { SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_VAULT_KEY: generateMasterKey(), SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    vaultId = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'apis' })).json().data.id;
    itemId = (await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, { title: 'upstream', type: 'api_key', hostname: upstream.host, fields: { token: 'tok_cache_1a2b3c4d' } })).json().data.id;
    agent = await api.createAgent('cache-agent');
    expect((await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/members`, { principalId: agent.id, role: 'requester' })).statusCode).toBe(201);
    const pending = await request();
    expect(pending.statusCode).toBe(202);
    leaseId = pending.json().data.leaseId;
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${leaseId}/approve`, { ttlSeconds: 3600 })).statusCode).toBe(200);
    const workspaceId = (await api.ctx.db.selectFrom('principals').select('workspace_id').where('id', '=', agent.id).executeTakeFirstOrThrow()).workspace_id;
    actor = { id: agent.id, workspaceId, isAdmin: false };
    // First use (approved → active), then a use that finds the active lease and remembers it.
    expect((await request()).statusCode).toBe(200);
    expect((await request()).statusCode).toBe(200);
  });
  afterEach(async () => { await api.close(); });

  const url = (path = '/v1/items') => `${upstream.url}${path}`;
  const request = (method = 'GET') => api.call(agent.apiKey, 'POST', '/broker/request', { method, url: url(), waitForApproval: false });
  const cached = () => hostnameLeaseCache(api.ctx.db).get(HostnameLeaseCache.key(actor, new URL(url())), Date.now());

  it('serves repeated requests from the look-up it remembered, attaching the credential each time', async () => {
    expect(cached()?.item.activeLease.id).toBe(leaseId);
    const before = upstream.received.length;
    expect((await request()).statusCode).toBe(200);
    expect(upstream.received.length).toBe(before + 1);
    expect(upstream.received.at(-1)?.headers.authorization).toBe('Bearer tok_cache_1a2b3c4d');
  });

  it('a revoked lease refuses the very next request', async () => {
    expect(cached()).toBeDefined();
    expect((await api.call(agent.apiKey, 'POST', `/vaults/leases/${leaseId}/revoke`)).statusCode).toBe(200);
    const before = upstream.received.length;
    const next = await request();
    expect(next.statusCode).toBe(202); // asks again
    expect(next.json().data.leaseId).not.toBe(leaseId);
    expect(upstream.received.length).toBe(before);
  });

  it('an item policy change applies to the very next request', async () => {
    expect(cached()).toBeDefined();
    expect((await api.call(api.adminKey, 'PATCH', `/vaults/items/${itemId}`, { policy: { allowed_methods: ['POST'] } })).statusCode).toBe(200);
    const before = upstream.received.length;
    const next = await request('GET');
    expect(next.statusCode).toBe(403);
    expect(next.json().detail).toContain('allowed_methods');
    expect(upstream.received.length).toBe(before);
  });

  it('a deleted item refuses the very next request', async () => {
    expect(cached()).toBeDefined();
    expect((await api.call(api.adminKey, 'DELETE', `/vaults/items/${itemId}`)).statusCode).toBe(204);
    const before = upstream.received.length;
    expect((await request()).statusCode).toBe(404);
    expect(upstream.received.length).toBe(before);
  });

  it('a caller removed from the vault is refused at the very next request', async () => {
    expect(cached()).toBeDefined();
    expect((await api.call(api.adminKey, 'DELETE', `/vaults/${vaultId}/members/${agent.id}`)).statusCode).toBe(204);
    const before = upstream.received.length;
    expect((await request()).statusCode).toBe(404);
    expect(upstream.received.length).toBe(before);
  });

  it('an item moved to another hostname stops matching from the very next request', async () => {
    expect(cached()).toBeDefined();
    expect((await api.call(api.adminKey, 'PATCH', `/vaults/items/${itemId}`, { hostname: 'elsewhere.example.com' })).statusCode).toBe(200);
    expect((await request()).statusCode).toBe(404);
  });
});

describe('HostnameLeaseCache', () => {
  const lease = (expiresAt: number): HostnameLease => ({
    host: 'api.example.com',
    item: { id: 'vit_1', activeLease: { id: 'vls_1', status: 'active', expiresAt } } as HostnameLease['item'],
  });

  it('never hands out a lease past its expiry, however fresh the entry', () => {
    const cache = new HostnameLeaseCache();
    cache.set('k', lease(1_000_100), 1_000_000, cache.snapshot());
    expect(cache.get('k', 1_000_050)).toBeDefined();
    expect(cache.get('k', 1_000_100)).toBeUndefined();
  });

  it('keeps an entry no longer than the TTL', () => {
    const cache = new HostnameLeaseCache();
    cache.set('k', lease(10_000_000), 1_000_000, cache.snapshot());
    expect(cache.get('k', 1_000_000 + HOSTNAME_LEASE_CACHE_TTL_MS - 1)).toBeDefined();
    expect(cache.get('k', 1_000_000 + HOSTNAME_LEASE_CACHE_TTL_MS)).toBeUndefined();
  });

  it('does not store a look-up that started before a change it may not have seen', () => {
    const cache = new HostnameLeaseCache();
    const snapshot = cache.snapshot();
    cache.forget();
    cache.set('k', lease(10_000_000), 1_000_000, snapshot);
    expect(cache.get('k', 1_000_000)).toBeUndefined();
  });
});
