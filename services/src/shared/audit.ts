import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Trx } from './events.js';

export const AUDIT_GENESIS = '0'.repeat(64);

export interface AuditInput {
  workspaceId: string;
  actorId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  /** Never a secret: ids, names, prefixes, keyed fingerprints at most. */
  data?: Record<string, unknown>;
}

/** Deterministic JSON (sorted keys) so a chain verifies the same on every machine. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function auditHash(prevHash: string, entry: Omit<AuditInput, 'workspaceId'> & { workspaceId: string; at: string }): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(entry)).digest('hex');
}

/**
 * Appends to the workspace's hash chain inside the caller's transaction. A transaction-scoped
 * advisory lock per workspace keeps two concurrent appends from forking the chain.
 */
export async function appendAudit(trx: Trx, input: AuditInput): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${'audit:' + input.workspaceId}))`.execute(trx);
  const last = await trx.selectFrom('audit_log').select('hash').where('workspace_id', '=', input.workspaceId).orderBy('id', 'desc').limit(1).executeTakeFirst();
  const prevHash = last?.hash ?? AUDIT_GENESIS;
  const at = new Date().toISOString();
  const entry = {
    workspaceId: input.workspaceId, actorId: input.actorId, action: input.action,
    targetType: input.targetType ?? null, targetId: input.targetId ?? null, data: input.data ?? {}, at,
  };
  await trx.insertInto('audit_log').values({
    workspace_id: input.workspaceId, actor_id: input.actorId, action: input.action,
    target_type: entry.targetType, target_id: entry.targetId, data: JSON.stringify(entry.data), at,
    prev_hash: prevHash, hash: auditHash(prevHash, entry as never),
  }).execute();
}

export interface StoredAuditEntry {
  id: number; workspace_id: string; actor_id: string | null; action: string; target_type: string | null; target_id: string | null;
  data: Record<string, unknown>; at: Date | string; prev_hash: string; hash: string;
}

/** Recomputes the chain; returns the id of the first entry that does not verify, or null. */
export function verifyAuditChain(entries: StoredAuditEntry[]): number | null {
  let prev = AUDIT_GENESIS;
  for (const e of entries) {
    const expected = auditHash(prev, {
      workspaceId: e.workspace_id, actorId: e.actor_id, action: e.action, targetType: e.target_type, targetId: e.target_id,
      data: e.data, at: new Date(e.at).toISOString(),
    } as never);
    if (e.prev_hash !== prev || e.hash !== expected) return Number(e.id);
    prev = e.hash;
  }
  return null;
}
