import { generateMasterKey } from '@sesamespace/vault';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  approveLease, createVault, createVaultItem, findActiveLease, findItemsByHostname, openItemFields, requestLease, vaultActor, type VaultActor,
} from '../src/api/routes/vaults/service.js';
import { loadConfig } from '../src/shared/config.js';
import { SesameError } from '../src/shared/errors.js';
import { VaultKeys } from '../src/shared/vault/keys.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

const SECRET = 'correct-horse-battery-staple-9f3a';

describe('vault master keys', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'sesame-vault-key-')); });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

  it('generates vault.key under the data dir, owner-only, once, when SESAME_VAULT_KEY is unset (embedded)', () => {
    const config = loadConfig({ SESAME_DATA_DIR: join(dir, 'data') });
    const first = new VaultKeys(config).keyring();
    const file = join(dir, 'data', 'vault.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toMatch(/^v1:[A-Za-z0-9+/]{43}=\n$/);
    const again = new VaultKeys(config).keyring();
    expect(again.key(1).equals(first.key(1))).toBe(true);
  });

  it('reads SESAME_VAULT_KEY as version 1, or as a keyring during a rotation', () => {
    const k1 = generateMasterKey();
    const k2 = generateMasterKey();
    expect(new VaultKeys(loadConfig({ SESAME_VAULT_KEY: k1 })).keyring().versions()).toEqual([1]);
    const ring = new VaultKeys(loadConfig({ SESAME_VAULT_KEY: `v1:${k1},v2:${k2}` })).keyring();
    expect(ring.versions()).toEqual([1, 2]);
    expect(ring.currentVersion).toBe(2);
  });

  it('refuses to run the vault on a shared database without a configured key (503, no generated file)', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', SESAME_JWT_SECRET: 'x'.repeat(40), SESAME_DATA_DIR: join(dir, 'pg') });
    expect(() => new VaultKeys(config).keyring()).toThrow(SesameError);
    expect(() => statSync(join(dir, 'pg', 'vault.key'))).toThrow();
  });

  it('rejects a malformed SESAME_VAULT_KEY at start, naming the variable', () => {
    expect(() => loadConfig({ SESAME_VAULT_KEY: 'not-a-key' })).toThrow(/SESAME_VAULT_KEY/);
  });
});

describe.each(targets())('vault storage on %s', (target) => {
  let api: TestApi;
  let admin: VaultActor;
  let agent: VaultActor;
  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_VAULT_KEY: generateMasterKey() });
    const adminRow = await api.ctx.db.selectFrom('principals').selectAll().where('is_admin', '=', true).executeTakeFirstOrThrow();
    admin = vaultActor({ principal: adminRow, via: 'token' });
    const created = await api.createAgent('vault-agent');
    const agentRow = await api.ctx.db.selectFrom('principals').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    agent = vaultActor({ principal: agentRow, via: 'token' });
  });
  afterAll(() => api?.close());

  it('stores only ciphertext bound to its vault, item and field', async () => {
    const vault = await createVault(api.ctx, admin, { name: 'prod' });
    const item = await createVaultItem(api.ctx, admin, vault.id, { title: 'db', type: 'login', fields: { username: 'app', password: SECRET } });
    const raw = JSON.stringify(await api.ctx.db.selectFrom('vault_items').selectAll().execute());
    expect(raw).not.toContain(SECRET);
    expect(item.key_version).toBe(1);
    expect(openItemFields(api.ctx, item)).toEqual({ username: 'app', password: SECRET });
    // The password's ciphertext moved to the username field, or to another item, does not open.
    const swapped = { ...item.sealed, fields: { ...item.sealed.fields, username: item.sealed.fields.password } };
    expect(() => openItemFields(api.ctx, { ...item, sealed: swapped }, ['username'])).toThrow(/could not be decrypted/);
    expect(() => openItemFields(api.ctx, { ...item, id: 'vit_other' })).toThrow(SesameError);
  });

  it('refuses unknown broker policy keys with 422 and defaults api_key injection to bearer', async () => {
    const vault = await createVault(api.ctx, admin, { name: 'apis' });
    await expect(createVaultItem(api.ctx, admin, vault.id, { title: 'x', type: 'api_key', fields: { key: SECRET }, policy: { allowed_hosts: [] } }))
      .rejects.toMatchObject({ status: 422 });
    const item = await createVaultItem(api.ctx, admin, vault.id, {
      title: 'GitHub', type: 'api_key', hostname: 'API.GitHub.com', fields: { key: SECRET },
      policy: { allowed_methods: ['GET'], path_rules: [{ path: '/repos/**', methods: ['GET', 'POST'] }] },
    });
    expect(item.injection).toEqual({ mode: 'bearer' });
    expect(item.hostname).toBe('api.github.com');
    expect(item.policy).toEqual({ allowed_methods: ['GET'], path_rules: [{ path: '/repos/**', methods: ['GET', 'POST'] }] });
  });

  it('finds items by hostname only in vaults the caller belongs to, and hands out the requester\'s active lease', async () => {
    const vault = await createVault(api.ctx, admin, { name: 'broker' });
    const item = await createVaultItem(api.ctx, admin, vault.id, { title: 'Stripe', type: 'api_key', hostname: 'stripe.com', fields: { key: SECRET } });
    expect(await findItemsByHostname(api.ctx.db, agent, 'api.stripe.com')).toEqual([]);
    await api.ctx.db.insertInto('vault_members').values({ vault_id: vault.id, principal_id: agent.id, role: 'requester', added_by: admin.id, added_at: new Date() }).execute();
    expect((await findItemsByHostname(api.ctx.db, agent, 'api.stripe.com')).map((i) => i.id)).toEqual([item.id]);
    expect((await findItemsByHostname(api.ctx.db, admin, 'STRIPE.com')).map((i) => i.id)).toEqual([item.id]);
    expect(await findItemsByHostname(api.ctx.db, agent, 'stripe.com.evil.io')).toEqual([]);

    const lease = await requestLease(api.ctx, agent, { itemId: item.id, reason: 'charge', hostname: 'api.stripe.com' });
    expect(lease.status).toBe('pending');
    expect(await findActiveLease(api.ctx.db, agent, item.id)).toBeUndefined();
    await expect(approveLease(api.ctx, agent, lease.id)).rejects.toMatchObject({ status: 403 });
    await approveLease(api.ctx, admin, lease.id);
    expect((await findActiveLease(api.ctx.db, agent, item.id, { hostname: 'api.stripe.com' }))?.id).toBe(lease.id);
    expect(await findActiveLease(api.ctx.db, agent, item.id, { hostname: 'other.example' })).toBeUndefined();
    expect(await findActiveLease(api.ctx.db, admin, item.id)).toBeUndefined();
  });
});
