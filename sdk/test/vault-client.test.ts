import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError, SesameClient } from '../src/index.js';
import { fakeServer, json, problem } from './fake-server.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => { await close?.(); close = undefined; });

describe('vault methods', () => {
  it('call the vault routes with the README shapes', async () => {
    const server = await fakeServer((req, res) => {
      if (req.url.startsWith('/api/v1/vaults/items/itm_1/reveal')) { json(res, 200, { data: { fields: { password: 'p' } } }); return; }
      if (req.url.startsWith('/api/v1/vaults/items/itm_1/totp')) { json(res, 200, { data: { code: '123456', expiresIn: 12, period: 30 } }); return; }
      if (req.url.startsWith('/api/v1/vaults/items/itm_1')) { json(res, 200, { data: { item: { id: 'itm_1' }, fieldKeys: ['password'], fieldHints: { password: '••••' } } }); return; }
      if (req.url.endsWith('/use')) { json(res, 200, { data: { fields: { password: 'p' } } }); return; }
      if (req.method === 'GET') { json(res, 200, { data: [{ id: 'x_1' }] }); return; }
      json(res, req.url === '/api/v1/vaults/leases' ? 201 : 200, { data: { id: 'x_1', status: 'pending' } });
    });
    close = server.close;
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a' });
    expect(await client.listVaults()).toEqual({ vaults: [{ id: 'x_1' }] });
    expect(await client.listVaultItems('vlt_1', { q: 'prod db', type: 'login' })).toEqual({ items: [{ id: 'x_1' }] });
    expect(await client.listVaultMembers('vlt_1')).toEqual({ members: [{ id: 'x_1' }] });
    expect(await client.getVaultItem('itm_1')).toEqual({ item: { id: 'itm_1' }, fieldKeys: ['password'], fieldHints: { password: '••••' } });
    expect(await client.revealItem('itm_1', ['password'])).toEqual({ fields: { password: 'p' } });
    expect(await client.generateTotp('itm_1')).toEqual({ code: '123456', expiresIn: 12, period: 30 });
    await client.updateVaultMaskingPolicy('vlt_1', { alwaysMask: ['password'], neverMask: ['url'] });
    const { lease } = await client.requestLease({ itemId: 'itm_1', reason: 'Need DB credentials' });
    expect(lease).toEqual({ id: 'x_1', status: 'pending' });
    await client.approveLease('lse_1', { ttlSeconds: 60 });
    expect(await client.useSecret('lse_1')).toEqual({ fields: { password: 'p' } });
    await client.revokeLease('lse_1');
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v1/vaults', 'GET /api/v1/vaults/vlt_1/items?q=prod+db&type=login', 'GET /api/v1/vaults/vlt_1/members', 'GET /api/v1/vaults/items/itm_1',
      'POST /api/v1/vaults/items/itm_1/reveal', 'POST /api/v1/vaults/items/itm_1/totp', 'PUT /api/v1/vaults/vlt_1/masking-policy',
      'POST /api/v1/vaults/leases', 'POST /api/v1/vaults/leases/lse_1/approve', 'POST /api/v1/vaults/leases/lse_1/use', 'POST /api/v1/vaults/leases/lse_1/revoke',
    ]);
    expect(server.requests[4].body).toEqual({ fields: ['password'] });
    expect(server.requests[7].body).toEqual({ itemId: 'itm_1', reason: 'Need DB credentials' });
  });

  it('does not retry useSecret: a lease use is counted and audited', async () => {
    let calls = 0;
    const server = await fakeServer((_req, res) => { calls++; json(res, 503, problem(503, 'service-unavailable'), { 'retry-after': '0' }); });
    close = server.close;
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 3 });
    await expect(client.useSecret('lse_1')).rejects.toThrow();
    expect(calls).toBe(1);
  });

  it('surfaces a refused lease as ConflictError', async () => {
    const server = await fakeServer((_req, res) => { json(res, 409, { ...problem(409, 'conflict', 'The lease has expired'), leaseStatus: 'expired' }); });
    close = server.close;
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 0 });
    await expect(client.useSecret('lse_1')).rejects.toBeInstanceOf(ConflictError);
  });
});
