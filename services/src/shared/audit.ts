import { chainHash, GENESIS_HASH, verifyHashChain, type ChainHashOptions } from '@sesamespace/vault';
import { sql } from 'kysely';
import type { Trx } from './events.js';
import { metrics } from './metrics.js';

const LEASE_ACTION = 'vault.lease_';

/**
 * The chain format this log has used since its first release (the previous hash, then the
 * row's canonical JSON). Rows already stored are append-only and must keep verifying, so the
 * format is fixed here rather than taken from the vault's default.
 */
const CHAIN_FORMAT: ChainHashOptions = { format: 'prefixed' };

export interface AuditInput {
  workspaceId: string;
  actorId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  /** Never a secret: ids, names, prefixes, keyed fingerprints at most. */
  data?: Record<string, unknown>;
}

/** What a row's hash covers: every column but `id` and the hashes, `at` as ISO 8601. */
interface AuditBody {
  workspaceId: string; actorId: string | null; action: string; targetType: string | null; targetId: string | null;
  data: Record<string, unknown>; at: string;
}

/**
 * Appends to the workspace's hash chain inside the caller's transaction. A transaction-scoped
 * advisory lock per workspace keeps two concurrent appends from forking the chain.
 */
export async function appendAudit(trx: Trx, input: AuditInput): Promise<void> {
  // Every lease transition is audited, so this is where they are counted (a rolled-back one too).
  if (input.action.startsWith(LEASE_ACTION)) metrics.leaseTransitions.inc({ transition: input.action.slice(LEASE_ACTION.length) });
  await sql`SELECT pg_advisory_xact_lock(hashtext(${'audit:' + input.workspaceId}))`.execute(trx);
  const last = await trx.selectFrom('audit_log').select('hash').where('workspace_id', '=', input.workspaceId).orderBy('id', 'desc').limit(1).executeTakeFirst();
  const prevHash = last?.hash ?? GENESIS_HASH;
  const body: AuditBody = {
    workspaceId: input.workspaceId, actorId: input.actorId, action: input.action,
    targetType: input.targetType ?? null, targetId: input.targetId ?? null, data: input.data ?? {}, at: new Date().toISOString(),
  };
  await trx.insertInto('audit_log').values({
    workspace_id: body.workspaceId, actor_id: body.actorId, action: body.action,
    target_type: body.targetType, target_id: body.targetId, data: JSON.stringify(body.data), at: body.at,
    prev_hash: prevHash, hash: chainHash(prevHash, { ...body }, CHAIN_FORMAT),
  }).execute();
}

export interface StoredAuditEntry {
  id: number; workspace_id: string; actor_id: string | null; action: string; target_type: string | null; target_id: string | null;
  data: Record<string, unknown>; at: Date | string; prev_hash: string; hash: string;
}

/** Recomputes the chain; returns the id of the first entry that does not verify, or null. */
export function verifyAuditChain(entries: StoredAuditEntry[]): number | null {
  const verdict = verifyHashChain(entries.map((e) => {
    const body: AuditBody = {
      workspaceId: e.workspace_id, actorId: e.actor_id, action: e.action, targetType: e.target_type, targetId: e.target_id,
      data: e.data, at: new Date(e.at).toISOString(),
    };
    return { prevHash: e.prev_hash, hash: e.hash, body: { ...body } };
  }), CHAIN_FORMAT);
  return verdict.valid ? null : entries[verdict.brokenAt]?.id ?? null;
}
