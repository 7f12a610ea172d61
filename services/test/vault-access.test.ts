import { generateMasterKey } from '@sesamespace/vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../src/shared/auth/secrets.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

/**
 * Who may do what: every vault endpoint called by every kind of caller, each answer asserted.
 * Callers: a workspace admin (an owner of every vault), members with each role, a member of the
 * workspace outside the vault, and a principal of another workspace (404 everywhere: it must
 * not learn that the vault exists).
 */
const CALLERS = ['admin', 'owner', 'editor', 'viewer', 'requester', 'nonMember', 'otherWorkspace'] as const;
type Caller = (typeof CALLERS)[number];
type Expected = Record<Caller, number>;
const row = (admin: number, owner: number, editor: number, viewer: number, requester: number, nonMember: number, otherWorkspace: number): Expected =>
  ({ admin, owner, editor, viewer, requester, nonMember, otherWorkspace });

describe.each(targets())('vault access matrix on %s', (target) => {
  let api: TestApi;
  const keys = {} as Record<Caller, string>;
  const ids = {} as Record<Caller, string>;
  let vaultId: string;

  beforeAll(async () => {
    // Many calls per key: the rate limit is not what this file tests.
    api = await startTestApi(target, { SESAME_VAULT_KEY: generateMasterKey(), SESAME_RATE_LIMIT_PER_MINUTE: '100000', SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000' });
    keys.admin = api.adminKey;
    ids.admin = (await api.call(api.adminKey, 'GET', '/auth/me')).json().data.id;
    vaultId = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'matrix' })).json().data.id;
    for (const role of ['owner', 'editor', 'viewer', 'requester', 'nonMember'] as const) {
      const agent = await api.createAgent(`m-${role.toLowerCase()}`);
      keys[role] = agent.apiKey;
      ids[role] = agent.id;
      if (role !== 'nonMember') expect((await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/members`, { principalId: agent.id, role })).statusCode).toBe(201);
    }
    // A principal of another workspace, with a key of every scope.
    const key = generateApiKey();
    await api.ctx.db.insertInto('workspaces').values({ id: 'ws_elsewhere', name: 'Elsewhere', settings: '{}', created_at: new Date() }).execute();
    await api.ctx.db.insertInto('principals').values({
      id: 'pr_elsewhere', workspace_id: 'ws_elsewhere', kind: 'human', handle: 'elsewhere', display_name: 'Elsewhere', email: null,
      password_hash: null, public_key: null, is_admin: true, created_at: new Date(),
    }).execute();
    await api.ctx.db.insertInto('api_keys').values({
      id: 'key_elsewhere', workspace_id: 'ws_elsewhere', principal_id: 'pr_elsewhere', name: 'x', prefix: key.prefix, key_hash: key.hash,
      scopes: JSON.stringify(['*']), rate_limit_per_minute: null, expires_at: null, created_at: new Date(),
    }).execute();
    keys.otherWorkspace = key.key;
    ids.otherWorkspace = 'pr_elsewhere';
  });
  afterAll(() => api?.close());

  const newItem = async () => (await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/items`, { title: 'item', type: 'totp', fields: { totp: 'GEZDGNBVGY3TQOJQ', note: 'n' } })).json().data.id as string;
  const newLease = async (approve: boolean) => {
    const itemId = await newItem();
    const lease = (await api.call(keys.requester, 'POST', '/vaults/leases', { itemId, reason: 'matrix' })).json().data.id as string;
    if (approve) expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease}/approve`, {})).statusCode).toBe(200);
    return lease;
  };

  /** Runs `call` once per caller (with fresh fixtures from `setup`) and returns the statuses. */
  async function statuses<T>(setup: () => Promise<T>, call: (key: string, fixture: T, who: Caller) => Promise<{ statusCode: number }>): Promise<Expected> {
    const out = {} as Expected;
    for (const who of CALLERS) out[who] = (await call(keys[who], await setup(), who)).statusCode;
    return out;
  }
  const none = async () => undefined;

  it('lists vaults: members and admins see it, nobody else', async () => {
    const sees = {} as Record<Caller, boolean>;
    for (const who of CALLERS) sees[who] = (await api.call(keys[who], 'GET', '/vaults')).json().data.some((v: { id: string }) => v.id === vaultId);
    expect(sees).toEqual({ admin: true, owner: true, editor: true, viewer: true, requester: true, nonMember: false, otherWorkspace: false });
  });

  it('manages members and the masking policy: owners and admins', async () => {
    expect(await statuses(none, (key, _, who) => api.call(key, 'POST', `/vaults/${vaultId}/members`, { principalId: ids[who === 'nonMember' || who === 'otherWorkspace' ? who : 'viewer'], role: 'viewer' })))
      .toEqual(row(201, 201, 403, 403, 403, 404, 404));
    const extra = async () => {
      const agent = await api.createAgent(`x-${Math.random().toString(36).slice(2, 10)}`);
      await api.call(api.adminKey, 'POST', `/vaults/${vaultId}/members`, { principalId: agent.id, role: 'viewer' });
      return agent.id;
    };
    expect(await statuses(extra, (key, principalId) => api.call(key, 'DELETE', `/vaults/${vaultId}/members/${principalId}`))).toEqual(row(204, 204, 403, 403, 403, 404, 404));
    expect(await statuses(none, (key) => api.call(key, 'PUT', `/vaults/${vaultId}/masking-policy`, { alwaysMask: ['note'], neverMask: [] }))).toEqual(row(200, 200, 403, 403, 403, 404, 404));
    // The non-member added above as a viewer is not one any more.
    await api.call(api.adminKey, 'DELETE', `/vaults/${vaultId}/members/${ids.nonMember}`);
  });

  it('reads items: every member; writes: owners and editors', async () => {
    const item = await newItem();
    expect(await statuses(none, (key) => api.call(key, 'GET', `/vaults/${vaultId}/items`))).toEqual(row(200, 200, 200, 200, 200, 404, 404));
    expect(await statuses(none, (key) => api.call(key, 'GET', `/vaults/items/${item}`))).toEqual(row(200, 200, 200, 200, 200, 404, 404));
    expect(await statuses(none, (key) => api.call(key, 'POST', `/vaults/${vaultId}/items`, { title: 'new', type: 'custom', fields: { a: 'b' } }))).toEqual(row(201, 201, 201, 403, 403, 404, 404));
    expect(await statuses(none, (key) => api.call(key, 'PATCH', `/vaults/items/${item}`, { title: 'renamed' }))).toEqual(row(200, 200, 200, 403, 403, 404, 404));
    expect(await statuses(newItem, (key, id) => api.call(key, 'DELETE', `/vaults/items/${id}`))).toEqual(row(204, 204, 204, 403, 403, 404, 404));
  });

  it('reveals and generates TOTP codes: owners and editors', async () => {
    const item = await newItem();
    expect(await statuses(none, (key) => api.call(key, 'POST', `/vaults/items/${item}/reveal`, {}))).toEqual(row(200, 200, 200, 403, 403, 404, 404));
    expect(await statuses(none, (key) => api.call(key, 'POST', `/vaults/items/${item}/totp`, {}))).toEqual(row(200, 200, 200, 403, 403, 404, 404));
  });

  it('requests leases: every member', async () => {
    const item = await newItem();
    expect(await statuses(none, (key) => api.call(key, 'POST', '/vaults/leases', { itemId: item, reason: 'r' }))).toEqual(row(201, 201, 201, 201, 201, 404, 404));
  });

  it('decides leases: owners and admins, never the requester; others do not see them', async () => {
    expect(await statuses(() => newLease(false), (key, id) => api.call(key, 'POST', `/vaults/leases/${id}/approve`, {}))).toEqual(row(200, 200, 404, 404, 403, 404, 404));
    expect(await statuses(() => newLease(false), (key, id) => api.call(key, 'POST', `/vaults/leases/${id}/deny`, {}))).toEqual(row(200, 200, 404, 404, 403, 404, 404));
  });

  it('uses and renews a lease: its requester only; revokes: requester, owners and admins', async () => {
    expect(await statuses(() => newLease(true), (key, id) => api.call(key, 'POST', `/vaults/leases/${id}/use`))).toEqual(row(403, 403, 404, 404, 200, 404, 404));
    expect(await statuses(() => newLease(true), (key, id) => api.call(key, 'POST', `/vaults/leases/${id}/renew`, { ttlSeconds: 60 }))).toEqual(row(403, 403, 404, 404, 200, 404, 404));
    expect(await statuses(() => newLease(true), (key, id) => api.call(key, 'POST', `/vaults/leases/${id}/revoke`))).toEqual(row(200, 200, 404, 404, 200, 404, 404));
  });

  it('lists leases: the requester its own, approvers what they may decide, nobody else', async () => {
    const lease = await newLease(false);
    const sees = {} as Record<Caller, boolean>;
    for (const who of CALLERS) sees[who] = (await api.call(keys[who], 'GET', '/vaults/leases')).json().data.some((l: { id: string }) => l.id === lease);
    expect(sees).toEqual({ admin: true, owner: true, editor: false, viewer: false, requester: true, nonMember: false, otherWorkspace: false });
  });

  it('read keys read, but neither reveal nor request', async () => {
    const readKey = (await api.call(keys.owner, 'POST', '/keys', { name: 'ro', scopes: ['read'] })).json().data.apiKey as string;
    const item = await newItem();
    expect((await api.call(readKey, 'GET', `/vaults/items/${item}`)).statusCode).toBe(200);
    expect((await api.call(readKey, 'POST', `/vaults/items/${item}/reveal`, {})).statusCode).toBe(403);
    expect((await api.call(readKey, 'POST', '/vaults/leases', { itemId: item, reason: 'r' })).statusCode).toBe(403);
  });
});
