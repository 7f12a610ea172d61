import { generateMasterKey } from '@sesamespace/vault';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVault, createVaultItem, openItemFields, vaultActor, type VaultActor } from '../src/api/routes/vaults/service.js';
import { loadConfig, type Config } from '../src/shared/config.js';
import type { ServiceContext } from '../src/shared/context.js';
import { rewrapBatch, rotateMasterKey } from '../src/shared/vault/rotate.js';
import { createTestContext, type TestContext } from './support/context.js';
import { targets } from './support/targets.js';

const SECRET = 'rotation-plaintext-3a9f';
const keyVersions = async (ctx: ServiceContext) => (await ctx.db.selectFrom('vault_items').select('key_version').execute()).map((r) => r.key_version);

async function adminOf(ctx: ServiceContext): Promise<VaultActor> {
  const now = new Date();
  await ctx.db.insertInto('workspaces').values({ id: 'ws_rot', name: 'rot', settings: '{}', created_at: now }).execute();
  const principal = await ctx.db.insertInto('principals').values({
    id: 'pr_rot', workspace_id: 'ws_rot', kind: 'human', handle: 'rot', display_name: 'rot', email: null, password_hash: null, public_key: null, is_admin: true, created_at: now,
  }).returningAll().executeTakeFirstOrThrow();
  return vaultActor({ principal, via: 'token' });
}

describe.each(targets())('master key rotation through SESAME_VAULT_KEY on %s', (target) => {
  let ctx: TestContext;
  let admin: VaultActor;
  const k1 = generateMasterKey();
  const k2 = generateMasterKey();
  const withKey = (key: string): ServiceContext => ({ ...ctx, config: loadConfig({ ...(ctx.config as Record<string, unknown>), SESAME_VAULT_KEY: key }) });
  beforeAll(async () => {
    ctx = await createTestContext(target, { SESAME_VAULT_KEY: k1 });
    admin = await adminOf(ctx);
  });
  afterAll(() => ctx?.close());

  it('accepts both keys during the rewrap, rewraps every item online, then works with the new key alone', async () => {
    const vault = await createVault(ctx, admin, { name: 'r' });
    const items = [];
    for (let i = 0; i < 5; i++) items.push(await createVaultItem(ctx, admin, vault.id, { title: `i${String(i)}`, type: 'login', fields: { password: SECRET } }));
    const both = withKey(`v1:${k1},v2:${k2}`);
    // Both keys: old items open, new ones are wrapped by v2.
    expect(openItemFields(both, items[0])).toEqual({ password: SECRET });
    const newer = await createVaultItem(both, admin, vault.id, { title: 'newer', type: 'login', fields: { password: SECRET } });
    expect(newer.key_version).toBe(2);
    // A single key cannot be rotated from: the command says what to do.
    await expect(rotateMasterKey(ctx.db, ctx.config, () => {})).rejects.toThrow(/v1:<current key>,v2:<new key>/);

    // Interrupted after one batch, then run again: it resumes.
    expect(await rewrapBatch(ctx.db, both.config, 2)).toBe(2);
    const lines: string[] = [];
    const { rewrapped } = await rotateMasterKey(ctx.db, both.config, (line) => lines.push(line));
    expect(rewrapped).toBe(3);
    expect(await keyVersions(ctx)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(lines.join('\n')).toContain('remove v1 from SESAME_VAULT_KEY');

    const rows = await ctx.db.selectFrom('vault_items').selectAll().execute();
    const onlyNew = withKey(`v2:${k2}`);
    for (const row of rows) expect(openItemFields(onlyNew, row)).toEqual({ password: SECRET });
    // The old key alone opens nothing any more (fails closed).
    expect(() => openItemFields(withKey(k1), rows[0])).toThrow(/master key version/);
  });
});

describe('master key rotation of the generated key file (embedded)', () => {
  let ctx: TestContext;
  let dir: string;
  let config: Config;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-rotate-'));
    ctx = await createTestContext('pglite', { SESAME_DATA_DIR: dir });
    config = ctx.config;
  });
  afterAll(async () => {
    await ctx?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a version, rewraps, drops the old one, and resumes when interrupted', async () => {
    const admin = await adminOf(ctx);
    const vault = await createVault(ctx, admin, { name: 'f' });
    for (let i = 0; i < 3; i++) await createVaultItem(ctx, admin, vault.id, { title: `f${String(i)}`, type: 'login', fields: { password: SECRET } });
    const file = join(dir, 'vault.key');
    expect(readFileSync(file, 'utf8')).toMatch(/^v1:/);
    await rotateMasterKey(ctx.db, config, () => {});
    expect(readFileSync(file, 'utf8')).toMatch(/^v2:[^,]+\n$/);
    expect(await keyVersions(ctx)).toEqual([2, 2, 2]);

    // A crash after the next key was added: the file holds v2 and v3, items are under v2.
    const v2 = readFileSync(file, 'utf8').trim();
    writeFileSync(file, `${v2},v3:${generateMasterKey()}\n`);
    const lines: string[] = [];
    await rotateMasterKey(ctx.db, config, (line) => lines.push(line));
    expect(lines[0]).toMatch(/^resuming/);
    expect(readFileSync(file, 'utf8')).toMatch(/^v3:[^,]+\n$/);
    const rows = await ctx.db.selectFrom('vault_items').selectAll().execute();
    for (const row of rows) expect(openItemFields(ctx, row)).toEqual({ password: SECRET });
  });

  it('runs as `sesame-server vault rotate-key`', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sesame-rotate-cli-'));
    try {
      const cwd = fileURLToPath(new URL('..', import.meta.url));
      const run = promisify(execFile);
      const env = { PATH: process.env.PATH ?? '', SESAME_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
      const { stdout } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/cli.ts', 'vault', 'rotate-key'], { cwd, env });
      expect(stdout).toContain('vault key rotation complete (0 item(s) rewrapped)');
      expect(readFileSync(join(dataDir, 'vault.key'), 'utf8')).toMatch(/^v2:/);
      const bad = await run(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/cli.ts', 'vault', 'nope'], { cwd, env }).catch((err: unknown) => err as { code: number; stderr: string });
      expect(bad).toMatchObject({ code: 1 });
      expect((bad as { stderr: string }).stderr).toContain('vault rotate-key');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
