import { canonicalJson, verifyHashChain, type ChainHashOptions } from '@sesamespace/vault';
import { sql } from 'kysely';
import type { Db } from './db/database.js';
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

/** One entry to chain, with the time it was asked for (what `at` records, whichever batch writes it). */
interface PendingEntry { input: AuditInput; at: Date }

/**
 * Appends `entries` in order to the workspace's chain in one statement: `audit_append` (migration
 * 0012) takes the workspace's transaction-scoped advisory lock — which every writer of the chain
 * takes, in this process or another, so appends are ordered and the chain never forks — reads
 * the head after it, and inserts each entry chained onto the one before, its hash
 * `sha256(prev_hash ‖ canonical JSON of the body)` (the `prefixed` format `verifyAuditChain`
 * recomputes). Inside a transaction the lock is held until it ends; alone, until the statement's own.
 */
async function appendChained(db: Db | Trx, workspaceId: string, entries: readonly PendingEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const rows = entries.map(({ input, at }) => {
    // Every lease transition is audited, so this is where they are counted (a rolled-back one too).
    if (input.action.startsWith(LEASE_ACTION)) metrics.leaseTransitions.inc({ transition: input.action.slice(LEASE_ACTION.length) });
    const body: AuditBody = {
      workspaceId, actorId: input.actorId, action: input.action,
      targetType: input.targetType ?? null, targetId: input.targetId ?? null, data: input.data ?? {}, at: at.toISOString(),
    };
    return {
      actor_id: body.actorId, action: body.action, target_type: body.targetType, target_id: body.targetId, data: body.data, at: body.at,
      canonical: canonicalJson({ ...body }),
    };
  });
  await sql`SELECT audit_append(${workspaceId}, ${JSON.stringify(rows)}::jsonb)`.execute(db);
}

/**
 * Appends to the workspace's hash chain inside the caller's transaction, for entries that must
 * commit or roll back with the change they record. A transaction-scoped advisory lock per
 * workspace keeps two concurrent appends from forking the chain.
 */
export async function appendAudit(trx: Trx, input: AuditInput): Promise<void> {
  await appendChained(trx, input.workspaceId, [{ input, at: new Date() }]);
}

/** The most entries one group commit writes (one statement); more wait for the next batch. */
const MAX_BATCH = 256;

interface Waiter extends PendingEntry { resolve: () => void; reject: (err: unknown) => void }

/**
 * Group commit of audit entries that stand alone (a secret used, a brokered request: the entry
 * is the only write). Concurrent appends of one workspace in this process share one
 * transaction — one statement: one chain lock, one read of the chain head, every entry chained
 * and inserted. While a batch is being written the next appends queue, and they form the next
 * batch once it is done, so a lone append waits for nobody and a busy workspace pays one
 * statement per batch instead of a transaction per entry, in turn under the lock.
 *
 * Each caller's promise settles after its batch's COMMIT: resolved once the entry is durable,
 * rejected (every entry of the batch, with the batch's error) when the batch fails. A caller
 * that hands out a secret after the append therefore never hands it out unaudited.
 */
export class AuditBatcher {
  private readonly queues = new Map<string, Waiter[]>();

  constructor(private readonly db: Db) {}

  append(input: AuditInput): Promise<void> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(input.workspaceId);
      const waiter = { input, at: new Date(), resolve, reject };
      if (queue) {
        queue.push(waiter);
        return;
      }
      this.queues.set(input.workspaceId, [waiter]);
      void this.drain(input.workspaceId);
    });
  }

  /** Writes the workspace's queue batch after batch until it is empty; the queue exists while this runs. */
  private async drain(workspaceId: string): Promise<void> {
    const queue = this.queues.get(workspaceId) ?? [];
    while (queue.length > 0) {
      // Appends issued together (in the same tick) join the same batch.
      await Promise.resolve();
      const batch = queue.splice(0, MAX_BATCH);
      try {
        await appendChained(this.db, workspaceId, batch);
      } catch (err) {
        for (const waiter of batch) waiter.reject(err);
        continue;
      }
      for (const waiter of batch) waiter.resolve();
    }
    this.queues.delete(workspaceId);
  }
}

const batchers = new WeakMap<Db, AuditBatcher>();

/**
 * Appends one entry in its own transaction, batched with concurrent appends of the workspace
 * (`AuditBatcher`, one per database handle); resolves once the entry is committed.
 */
export function appendAuditCommitted(db: Db, input: AuditInput): Promise<void> {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new AuditBatcher(db);
    batchers.set(db, batcher);
  }
  return batcher.append(input);
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
