import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { authenticateCredential, CredentialCache, refreshAhead } from '../src/shared/auth/authenticate.js';
import { sha256 } from '../src/shared/auth/secrets.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

/** How many times each value was hashed through `sha256` (by every module importing it), counted from here on. */
const hashed = vi.hoisted(() => new Map<string, number>());
vi.mock('../src/shared/auth/secrets.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/shared/auth/secrets.js')>();
  return { ...actual, sha256: (value: string) => { hashed.set(value, (hashed.get(value) ?? 0) + 1); return actual.sha256(value); } };
});

/**
 * The api's credential cache: a key in steady use is re-read before its entry ends (requests
 * never wait for the database), a re-read that finds the key revoked drops it, and a read that
 * began before the cache dropped entries for a change is not stored.
 */
describe.each(targets())('credential cache (%s)', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target); });
  afterAll(async () => { await api.close(); });
  afterEach(() => { vi.useRealTimers(); });

  /** Revokes the key in the database only: no change message, so no cache hears of it. */
  async function revokeQuietly(principalId: string): Promise<void> {
    await api.ctx.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('principal_id', '=', principalId).execute();
  }

  it('renews an entry near its end in the background, once at a time', async () => {
    const agent = await api.createAgent('cc-renew');
    const cache = new CredentialCache(1_000, 100, 200);
    const hash = sha256(agent.apiKey);
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    expect(await authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache)).not.toBeNull(); // until start + 1 s
    // Not near its end: nothing to do.
    expect(cache.claimRefresh(hash, start + 500)).toBe(false);
    vi.setSystemTime(start + 900);
    refreshAhead(api.ctx.db, hash, cache, start + 900);
    // One re-read at a time.
    expect(cache.claimRefresh(hash, start + 900)).toBe(false);
    // Renewed (until start + 1.9 s): answered past the old entry's end.
    await vi.waitFor(() => { expect(cache.get(hash, start + 1_500)).toBeDefined(); });
    expect(cache.claimRefresh(hash, start + 1_500)).toBe(false);
  });

  it('drops the entry when the re-read finds the key revoked', async () => {
    const agent = await api.createAgent('cc-revoked');
    const cache = new CredentialCache(60_000, 100, 60_000);
    const hash = sha256(agent.apiKey);
    expect(await authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache)).not.toBeNull();
    await revokeQuietly(agent.id);
    expect(cache.get(hash, Date.now())).toBeDefined();
    refreshAhead(api.ctx.db, hash, cache, Date.now());
    await vi.waitFor(() => { expect(cache.get(hash, Date.now())).toBeUndefined(); });
    expect(await authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache)).toBeNull();
  });

  it('does not store a read that began before a change dropped entries', async () => {
    const agent = await api.createAgent('cc-epoch');
    const cache = new CredentialCache();
    const hash = sha256(agent.apiKey);
    const reading = authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache);
    // A revocation heard while the row is being read (which may have seen it unrevoked).
    cache.forget({ principalId: agent.id });
    expect(await reading).not.toBeNull();
    expect(cache.get(hash, Date.now())).toBeUndefined();
    // A read begun after the change is stored.
    expect(await authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache)).not.toBeNull();
    expect(cache.get(hash, Date.now())).toBeDefined();
  });

  it('stores a read in flight across changes to other principals and keys, not across a clear', async () => {
    const agent = await api.createAgent('cc-other');
    const other = await api.createAgent('cc-other-2');
    const cache = new CredentialCache();
    const hash = sha256(agent.apiKey);
    const agentKey = (await api.ctx.db.selectFrom('api_keys').select('id').where('principal_id', '=', agent.id).executeTakeFirstOrThrow()).id;
    const reading = authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache);
    // Another principal changed, and another key of this principal revoked: not about this key.
    cache.forget({ principalId: other.id });
    cache.forget({ principalId: agent.id, apiKeyId: other.id });
    expect(await reading).not.toBeNull();
    expect(cache.get(hash, Date.now())).toBeDefined();

    // This key's own revocation among others: not stored.
    cache.clear();
    const again = authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache);
    cache.forget({ principalId: other.id });
    cache.forget({ principalId: agent.id, apiKeyId: agentKey });
    cache.forget({ principalId: other.id });
    expect(await again).not.toBeNull();
    expect(cache.get(hash, Date.now())).toBeUndefined();

    // A clear drops every read in flight.
    const third = authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache);
    cache.clear();
    expect(await third).not.toBeNull();
    expect(cache.get(hash, Date.now())).toBeUndefined();
  });

  it('does not store a read in flight when more changes were heard than it keeps', async () => {
    const agent = await api.createAgent('cc-overflow');
    const cache = new CredentialCache();
    const hash = sha256(agent.apiKey);
    const reading = authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey, cache);
    // None about this key, but too many to tell: the oldest it missed are no longer known.
    for (let i = 0; i < 1_000; i++) cache.forget({ principalId: `pr_other${String(i)}` });
    expect(await reading).not.toBeNull();
    expect(cache.get(hash, Date.now())).toBeUndefined();
  });

  it('records last_used_at without the request waiting for it', async () => {
    const agent = await api.createAgent('cc-last-used');
    await api.ctx.db.updateTable('api_keys').set({ last_used_at: null }).where('principal_id', '=', agent.id).execute();
    expect(await authenticateCredential(api.ctx.db, api.ctx.tokens, agent.apiKey)).not.toBeNull();
    await vi.waitFor(async () => {
      const row = await api.ctx.db.selectFrom('api_keys').select('last_used_at').where('principal_id', '=', agent.id).executeTakeFirstOrThrow();
      expect(row.last_used_at).not.toBeNull();
    });
  });

  it('hashes a key once for a request that misses the cache (the hook passes its hash on), and still refuses it once revoked', async () => {
    const agent = await api.createAgent('cc-hash-once');
    hashed.delete(agent.apiKey);
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    expect(hashed.get(agent.apiKey)).toBe(1);
    // Revoked through the api: heard by the cache, and the next request reads the key again.
    const keys = (await api.call(api.adminKey, 'GET', `/keys?principalId=${agent.id}`)).json().data as Array<{ id: string }>;
    expect((await api.call(api.adminKey, 'DELETE', `/keys/${keys[0].id}`)).statusCode).toBe(200);
    hashed.delete(agent.apiKey);
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(401);
    expect(hashed.get(agent.apiKey)).toBe(1);
  });

  it('a request near the entry\'s end renews it: the key is not read on the request path after its TTL', async () => {
    const agent = await api.createAgent('cc-request');
    // Only Date is faked: the database and the app keep their timers.
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.now();
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200); // read, cached for 5 s
    // An old last_used_at: the renewal's read writes a new one, which shows it has read the key.
    const longAgo = new Date('2000-01-01T00:00:00Z');
    await api.ctx.db.updateTable('api_keys').set({ last_used_at: longAgo }).where('principal_id', '=', agent.id).execute();
    vi.setSystemTime(start + 4_500);
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200); // answered from the cache, renewed in the background
    await vi.waitFor(async () => {
      const row = await api.ctx.db.selectFrom('api_keys').select('last_used_at').where('principal_id', '=', agent.id).executeTakeFirstOrThrow();
      expect(new Date(row.last_used_at!).getTime()).toBeGreaterThan(longAgo.getTime());
    });
    // Renewed at 4.5 s: a revocation nobody hears of stays unseen until the renewed entry ends.
    await revokeQuietly(agent.id);
    vi.setSystemTime(start + 5_500);
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
    // Past the renewed entry's end the key is read again: refused.
    vi.setSystemTime(start + 10_000);
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(401);
  });
});
