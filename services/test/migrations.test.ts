import { readdirSync, readFileSync } from 'node:fs';
import { Migrator, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshSession } from '../src/api/routes/auth/sessions.js';
import { sha256 } from '../src/shared/auth/secrets.js';
import { TokenService } from '../src/shared/auth/tokens.js';
import type { ServiceContext } from '../src/shared/context.js';
import { createDatabase } from '../src/shared/db/database.js';
import { migrations } from '../src/shared/db/migrations/index.js';
import { createLogger } from '../src/shared/logger.js';
import { startTestApi, type TestApi } from './support/api.js';
import { freshDatabase } from './support/context.js';
import { targets } from './support/targets.js';

const folder = new URL('../src/shared/db/migrations/', import.meta.url);
const REGISTRY = 'index.ts';
const migrationFiles = readdirSync(folder).filter((name) => name.endsWith('.ts') && name !== REGISTRY).sort();

/** Every module a file pulls in: static imports and re-exports, side-effect imports, `import()` and `require()`. */
function importedModules(source: string): string[] {
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]));
}

describe('migrations', () => {
  it('finds the import forms it is meant to catch', () => {
    expect(importedModules(`import { runStatements } from './0001-initial-schema.js';`)).toEqual(['./0001-initial-schema.js']);
    expect(importedModules(`import type {\n  Kysely,\n} from 'kysely';\nexport { x } from "../schema.js";`)).toEqual(['kysely', '../schema.js']);
    expect(importedModules(`import './side-effect.js'; const m = await import('../ids.js'); require("pg");`)).toEqual(['./side-effect.js', '../ids.js', 'pg']);
  });

  // Kysely's migration guide: a migration is frozen when it ships, so it must not depend on
  // another migration or on app code (schema types, helpers) that keeps changing afterwards.
  it('are self-contained: each file imports nothing but kysely', () => {
    expect(migrationFiles.length).toBeGreaterThan(0);
    const offending = migrationFiles.flatMap((name) => importedModules(readFileSync(new URL(name, folder), 'utf8'))
      .filter((specifier) => specifier !== 'kysely').map((specifier) => `${name} imports ${specifier}`));
    expect(offending).toEqual([]);
  });

  it('registers every migration file under its own name, in order', () => {
    expect(Object.keys(migrations)).toEqual(migrationFiles.map((name) => name.replace(/\.ts$/, '')));
  });
});

describe.each(targets())('migration 0004 (refresh token families) on %s', (target) => {
  it('gives tokens issued before it a family of their own, so they still rotate, and migrates down again', async () => {
    const database = await freshDatabase(target);
    const db = createDatabase({ databaseUrl: database.url, dataDir: database.dataDir, logger: createLogger('silent', 'test') });
    try {
      const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableName: 'sesame_migrations', migrationLockTableName: 'sesame_migrations_lock' });
      expect((await migrator.migrateTo('0003-member-joined-seq')).error).toBeUndefined();
      const now = new Date();
      await db.insertInto('workspaces').values({ id: 'ws_1', name: 'Before', settings: '{}', created_at: now }).execute();
      await db.insertInto('principals').values({ id: 'pr_1', workspace_id: 'ws_1', kind: 'human', handle: 'early', display_name: 'Early', email: null, password_hash: null, public_key: null, is_admin: false, created_at: now }).execute();
      // Inserted as a version before 0004 did: without a family.
      await db.insertInto('refresh_tokens').values({ id: 'rt_old', principal_id: 'pr_1', token_hash: sha256('rt_issued_before_families'), expires_at: new Date(Date.now() + 86_400_000), created_at: now } as never).execute();

      expect((await migrator.migrateToLatest()).error).toBeUndefined();
      expect(await db.selectFrom('refresh_tokens').select(['id', 'family_id']).execute()).toEqual([{ id: 'rt_old', family_id: 'rt_old' }]);
      const ctx = { db, logger: createLogger('silent', 'test'), tokens: await TokenService.create(db, 'a test secret that is long enough', 900) } as ServiceContext;
      const session = await refreshSession(ctx, 'rt_issued_before_families');
      expect(session.principal.id).toBe('pr_1');
      const next = await db.selectFrom('refresh_tokens').select('family_id').where('token_hash', '=', sha256(session.refreshToken)).executeTakeFirstOrThrow();
      expect(next.family_id).toBe('rt_old');

      // Down to the version before 0004 (later migrations go down with it).
      expect((await migrator.migrateTo('0003-member-joined-seq')).error).toBeUndefined();
      await db.insertInto('refresh_tokens').values({ id: 'rt_after_down', principal_id: 'pr_1', token_hash: 'h', expires_at: now, created_at: now } as never).execute();
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});

describe.each(targets())('migration 0013 (partial clientGeneratedId index) on %s', (target) => {
  let api: TestApi;
  beforeAll(async () => { api = await startTestApi(target); });
  afterAll(() => api?.close());

  it('keeps a clientGeneratedId unique per channel and sender, and indexes only the messages that carry one', async () => {
    const alice = await api.createAgent('cgid-alice');
    const channel = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'channel', name: 'cgid', memberIds: [] })).json().data as { id: string; workspaceId: string };
    const insert = (id: string, seq: number, clientGeneratedId: string | null) => sql`INSERT INTO messages (id, channel_id, workspace_id, sender_id, seq, kind, content, client_generated_id)
      VALUES (${id}, ${channel.id}, ${channel.workspaceId}, ${alice.id}, ${seq}, 'text', 'x', ${clientGeneratedId})`.execute(api.ctx.db);
    await insert('msg_cg1', 101, 'same');
    await expect(insert('msg_cg2', 102, 'same')).rejects.toMatchObject({ code: '23505' });
    await insert('msg_cg3', 103, null);
    await insert('msg_cg4', 104, null);
    const indexes = (await sql<{ indexdef: string }>`SELECT indexdef FROM pg_indexes WHERE tablename = 'messages' AND indexdef LIKE '%client_generated_id%'`.execute(api.ctx.db)).rows;
    expect(indexes.map((i) => i.indexdef)).toEqual([expect.stringMatching(/^CREATE UNIQUE INDEX messages_client_generated_id_key .* WHERE \(client_generated_id IS NOT NULL\)$/)]);
  });
});
