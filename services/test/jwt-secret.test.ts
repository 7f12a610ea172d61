import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../src/shared/auth/tokens.js';
import { ConfigError, dataPaths, loadConfig } from '../src/shared/config.js';
import { createTestContext, type TestContext } from './support/context.js';
import { targets } from './support/targets.js';

const claims = { principalId: 'pr_1', workspaceId: 'ws_1', kind: 'agent' as const };
const LEGACY = 'a plain-text secret an older version generated';

describe.each(targets())('the JWT signing secret on %s', (target) => {
  let ctx: TestContext;
  let dir: string;
  beforeAll(async () => {
    ctx = await createTestContext(target);
    dir = mkdtempSync(join(tmpdir(), 'sesame-jwt-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await ctx?.close();
  });
  const legacyRow = () => ctx.db.selectFrom('server_settings').select('value').where('key', '=', 'jwt_secret').executeTakeFirst();
  const storeLegacy = () => sql`INSERT INTO server_settings (key, value) VALUES ('jwt_secret', ${LEGACY}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`.execute(ctx.db);

  it('never stores a generated secret in the database: it lives in the data dir, owner-only, and survives restarts', async () => {
    const file = dataPaths({ SESAME_DATA_DIR: join(dir, 'fresh') }).jwtSecretFile;
    const first = await TokenService.create(ctx.db, undefined, 900, file);
    expect(await legacyRow()).toBeUndefined();
    const rows = await ctx.db.selectFrom('server_settings').select('value').execute();
    const secret = readFileSync(file, 'utf8');
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(rows.map((r) => r.value)).not.toContain(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const restarted = await TokenService.create(ctx.db, undefined, 900, file);
    expect(await restarted.verify((await first.issue(claims)).token)).toEqual(claims);
  });

  it('moves the plain-text secret of older versions out of the database, keeping its tokens valid', async () => {
    await storeLegacy();
    const old = await TokenService.create(ctx.db, LEGACY, 900);
    const issuedBefore = (await old.issue(claims)).token;
    await storeLegacy();
    const file = join(dir, 'upgraded', 'jwt-secret');
    const tokens = await TokenService.create(ctx.db, undefined, 900, file);
    expect(await legacyRow()).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe(LEGACY);
    expect(await tokens.verify(issuedBefore)).toEqual(claims);
  });

  it('drops the plain-text row when SESAME_JWT_SECRET is configured, and signs with the configured one', async () => {
    await storeLegacy();
    const configured = 'x'.repeat(40);
    const tokens = await TokenService.create(ctx.db, configured, 900);
    expect(await legacyRow()).toBeUndefined();
    const other = await TokenService.create(ctx.db, LEGACY, 900);
    expect(await other.verify((await tokens.issue(claims)).token)).toBeNull();
  });

  it('tightens a secret file with loose permissions and refuses one too short', async () => {
    const loose = join(dir, 'loose-secret');
    writeFileSync(loose, 'y'.repeat(40), { mode: 0o644 });
    await TokenService.create(ctx.db, undefined, 900, loose);
    expect(statSync(loose).mode & 0o777).toBe(0o600);
    const short = join(dir, 'short-secret');
    writeFileSync(short, 'short', { mode: 0o600 });
    await expect(TokenService.create(ctx.db, undefined, 900, short)).rejects.toThrow(/at least 32 characters/);
  });
});

describe('SESAME_JWT_SECRET with a shared database', () => {
  it('is required with DATABASE_URL: replicas must agree, so the process stops naming the variable', () => {
    let error: unknown;
    try { loadConfig({ DATABASE_URL: 'postgres://localhost/sesame' }); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable)).toEqual(['SESAME_JWT_SECRET']);
    expect(loadConfig({ DATABASE_URL: 'postgres://localhost/sesame', SESAME_JWT_SECRET: 'z'.repeat(32) }).SESAME_JWT_SECRET).toHaveLength(32);
    expect(loadConfig({}).SESAME_JWT_SECRET).toBeUndefined();
  });
});
