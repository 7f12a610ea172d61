import { createHash, createHmac } from 'node:crypto';

/**
 * Audit entries for vault actions: who did what to which item or lease, when, and never the
 * secret itself — at most a keyed fingerprint (HMAC) that proves "the same value" without
 * revealing it. Entries are hash-chained so any edit, insertion or deletion is detectable.
 */
export type VaultAuditAction =
  | 'item.created' | 'item.updated' | 'item.deleted' | 'item.revealed' | 'totp.generated' | 'item.rewrapped' | 'policy.updated'
  | 'lease.requested' | 'lease.approved' | 'lease.denied' | 'lease.used' | 'lease.renewed' | 'lease.revoked' | 'lease.expired';

export interface AuditTarget { vaultId: string; itemId?: string; leaseId?: string; fieldKeys?: string[] }

export interface AuditEntry {
  seq: number;
  at: string;
  actorId: string | null;
  action: VaultAuditAction;
  target: AuditTarget;
  /** Non-secret details (reason, status, TTL) and at most keyed fingerprints of secrets. */
  details: Record<string, string | number | boolean | null | string[]>;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** Sorted keys, no whitespace: the same entry hashes the same everywhere. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  return `{${Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

function hashEntry(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256').update(canonicalJson(entry)).digest('hex');
}

/** HMAC-SHA256 under the audit key: equal secrets give equal fingerprints; the secret is not recoverable. */
export function fingerprint(auditKey: Uint8Array | string, secret: string): string {
  const key = typeof auditKey === 'string' ? Buffer.from(auditKey, 'base64') : auditKey;
  return `hmac-sha256:${createHmac('sha256', key).update(secret, 'utf8').digest('hex').slice(0, 32)}`;
}

export interface AuditInput {
  actorId: string | null;
  action: VaultAuditAction;
  target: AuditTarget;
  details?: AuditEntry['details'];
  at: Date;
}

/** Builds the next entry of a chain whose last entry is `previous` (or none). */
export function buildAuditEntry(previous: AuditEntry | null, input: AuditInput): AuditEntry {
  const body: Omit<AuditEntry, 'hash'> = {
    seq: previous ? previous.seq + 1 : 1,
    at: input.at.toISOString(),
    actorId: input.actorId,
    action: input.action,
    target: { ...input.target, ...(input.target.fieldKeys ? { fieldKeys: [...input.target.fieldKeys].sort() } : {}) },
    details: input.details ?? {},
    prevHash: previous?.hash ?? GENESIS_HASH,
  };
  return { ...body, hash: hashEntry(body) };
}

/** `{valid: true}` or the index of the first entry that breaks the chain. */
export function verifyAuditChain(entries: AuditEntry[]): { valid: true } | { valid: false; brokenAt: number; reason: string } {
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < entries.length; i++) {
    const { hash, ...body } = entries[i];
    if (body.seq !== i + 1) return { valid: false, brokenAt: i, reason: 'sequence gap or reorder' };
    if (body.prevHash !== prevHash) return { valid: false, brokenAt: i, reason: 'previous hash does not match' };
    if (hashEntry(body) !== hash) return { valid: false, brokenAt: i, reason: 'entry content was altered' };
    prevHash = hash;
  }
  return { valid: true };
}
