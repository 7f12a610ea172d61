import { generateMasterKey } from '@sesamespace/vault';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAudit, appendAuditCommitted, AuditBatcher, verifyAuditChain, type AuditInput } from '../src/shared/audit.js';
import { createDatabase, type Db } from '../src/shared/db/database.js';
import { createLogger } from '../src/shared/logger.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

const PASSWORD = 'batch-pw-4c1d9e7f0a2b';

/**
 * The audit group commit (`AuditBatcher`): concurrent appends share a transaction, the chain
 * still verifies across batches, processes and in-transaction appends, and a caller is never
 * answered before its entry is committed.
 */
describe.each(targets())('audit group commit on %s', (target) => {
  let api: TestApi;
  let workspaceId: string;
  let agentKey: string;
  let itemId: string;

  const chainOf = async () => api.ctx.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', workspaceId).orderBy('id', 'asc').execute();
  const activeLease = async () => {
    const lease = (await api.call(agentKey, 'POST', '/vaults/leases', { itemId, reason: 'batch test', ttlSeconds: 600 })).json().data;
    expect((await api.call(api.adminKey, 'POST', `/vaults/leases/${lease.id}/approve`, {})).statusCode).toBe(200);
    // The first use activates the lease (the locked path); the later ones take the one-statement path.
    expect((await api.call(agentKey, 'POST', `/vaults/leases/${lease.id}/use`)).statusCode).toBe(200);
    return lease.id as string;
  };

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_VAULT_KEY: generateMasterKey(), SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    workspaceId = (await api.ctx.db.selectFrom('principals').select('workspace_id').where('is_admin', '=', true).executeTakeFirstOrThrow()).workspace_id;
    const agent = await api.createAgent('batch-borrower');
    agentKey = agent.apiKey;
    const vault = (await api.call(api.adminKey, 'POST', '/vaults', { name: 'Batches' })).json().data;
    await api.call(api.adminKey, 'POST', `/vaults/${vault.id}/members`, { principalId: agent.id, role: 'requester' });
    itemId = (await api.call(api.adminKey, 'POST', `/vaults/${vault.id}/items`, { title: 'db', type: 'login', fields: { username: 'app', password: PASSWORD } })).json().data.id;
  });
  afterAll(() => api?.close());

  it('audits each of 60 concurrent uses of one lease, counted once each, and the chain verifies', async () => {
    const leaseId = await activeLease();
    const uses = await Promise.all(Array.from({ length: 60 }, () => api.call(agentKey, 'POST', `/vaults/leases/${leaseId}/use`)));
    expect(uses.map((u) => u.statusCode)).toEqual(Array.from({ length: 60 }, () => 200));
    for (const use of uses) expect(use.json().data.fields.password).toBe(PASSWORD);

    const lease = await api.ctx.db.selectFrom('vault_leases').select('uses_count').where('id', '=', leaseId).executeTakeFirstOrThrow();
    expect(lease.uses_count).toBe(61);
    const audited = (await chainOf()).filter((e) => e.action === 'vault.secret_used' && e.target_id === leaseId);
    // One entry per use, each naming its own use number.
    expect(audited.map((e) => e.data.use as number).sort((a, b) => a - b)).toEqual(Array.from({ length: 61 }, (_, i) => i + 1));
    expect(JSON.stringify(audited)).not.toContain(PASSWORD);
    expect(verifyAuditChain(await chainOf())).toBeNull();
  });

  it('keeps one chain when two appenders (two database handles on Postgres) and in-transaction appends write one workspace at once', async () => {
    // Another process is another pool with its own batcher; PGlite is one process, so there a second batcher on the same handle.
    const second: Db | null = target === 'postgres' && api.ctx.databaseUrl
      ? createDatabase({ databaseUrl: api.ctx.databaseUrl, poolSize: 10, logger: createLogger('silent', 'test') }) : null;
    const other = new AuditBatcher(second ?? api.ctx.db);
    try {
      const before = (await chainOf()).length;
      const entry = (i: number, via: string): AuditInput => ({ workspaceId, actorId: null, action: 'test.appended', targetType: 'test', targetId: `${via}-${String(i)}`, data: { i, note: 'déjà-vu ✓ 漢字 "quoted" \\ back' } });
      await Promise.all([
        ...Array.from({ length: 40 }, (_, i) => appendAuditCommitted(api.ctx.db, entry(i, 'first'))),
        ...Array.from({ length: 40 }, (_, i) => other.append(entry(i, 'second'))),
        ...Array.from({ length: 10 }, (_, i) => api.ctx.db.transaction().execute((trx) => appendAudit(trx, entry(i, 'trx')))),
      ]);
      const chain = await chainOf();
      expect(chain.length - before).toBe(90);
      expect(new Set(chain.filter((e) => e.action === 'test.appended').map((e) => e.target_id)).size).toBe(90);
      expect(verifyAuditChain(chain)).toBeNull();
    } finally {
      await second?.destroy();
    }
  });

  it('fails every append of a batch that does not commit, and writes none of it', async () => {
    await sql`ALTER TABLE audit_log ADD CONSTRAINT test_refused_action CHECK (action <> 'test.refused') NOT VALID`.execute(api.ctx.db);
    try {
      const before = (await chainOf()).length;
      // Issued together, they form one batch: the one entry the database refuses fails all of them.
      const outcomes = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => appendAuditCommitted(api.ctx.db, {
        workspaceId, actorId: null, action: i === 17 ? 'test.refused' : 'test.accepted', data: { i },
      })));
      expect(outcomes.map((o) => o.status)).toEqual(Array.from({ length: 30 }, () => 'rejected'));
      expect((await chainOf()).length).toBe(before);
      // The batcher carries on with the next batch.
      await appendAuditCommitted(api.ctx.db, { workspaceId, actorId: null, action: 'test.accepted', data: { after: true } });
      expect((await chainOf()).length).toBe(before + 1);
      expect(verifyAuditChain(await chainOf())).toBeNull();
    } finally {
      await sql`ALTER TABLE audit_log DROP CONSTRAINT test_refused_action`.execute(api.ctx.db);
    }
  });

  it('returns no secret from a use whose audit entry could not be written', async () => {
    const leaseId = await activeLease();
    const audited = async () => (await chainOf()).filter((e) => e.action === 'vault.secret_used' && e.target_id === leaseId).length;
    const before = await audited();
    await sql`ALTER TABLE audit_log ADD CONSTRAINT test_no_secret_used CHECK (action <> 'vault.secret_used') NOT VALID`.execute(api.ctx.db);
    try {
      const uses = await Promise.all(Array.from({ length: 20 }, () => api.call(agentKey, 'POST', `/vaults/leases/${leaseId}/use`)));
      expect(uses.map((u) => u.statusCode)).toEqual(Array.from({ length: 20 }, () => 500));
      for (const use of uses) expect(use.body).not.toContain(PASSWORD);
    } finally {
      await sql`ALTER TABLE audit_log DROP CONSTRAINT test_no_secret_used`.execute(api.ctx.db);
    }
    expect(await audited()).toBe(before);
    const after = await api.call(agentKey, 'POST', `/vaults/leases/${leaseId}/use`);
    expect(after.json().data.fields.password).toBe(PASSWORD);
    expect(await audited()).toBe(before + 1);
  });
});
