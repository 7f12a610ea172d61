import { createHash, createHmac } from 'node:crypto';

/**
 * Audit entries for vault actions: who did what to which item or lease, when, and never the
 * secret itself — at most a keyed fingerprint (HMAC) that proves "the same value" without
 * revealing it. Entries are hash-chained so any edit, insertion or deletion is detectable.
 *
 * The chaining itself (`chainHash`, `verifyHashChain`) is the one implementation in the
 * repository: the services' admin audit log stores its rows with it too.
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

/**
 * Where a link's hash takes in the hash before it. Both are SHA-256 over `canonicalJson`:
 * - `embedded` (default): `sha256(canonicalJson({...body, prevHash}))`, the vault's entries.
 * - `prefixed`: `sha256(prevHash ‖ canonicalJson(body))`, the services' admin audit log since its
 *   first release. Rows already stored in that format must keep verifying, so it stays selectable
 *   rather than being migrated (the log is append-only: its rows can't be rehashed).
 */
export type ChainHashFormat = 'embedded' | 'prefixed';
export interface ChainHashOptions { format?: ChainHashFormat }

/** The hash of the link that follows `prevHash` and carries `body` (which must not hold a secret). */
export function chainHash(prevHash: string, body: Record<string, unknown>, options: ChainHashOptions = {}): string {
  if (options.format === 'prefixed') return createHash('sha256').update(prevHash).update(canonicalJson(body)).digest('hex');
  return createHash('sha256').update(canonicalJson({ ...body, prevHash })).digest('hex');
}

/** One stored link of a hash chain: what it claims (`prevHash`, `hash`) and what it covers (`body`). */
export interface ChainLink { prevHash: string; hash: string; body: Record<string, unknown> }

export type ChainVerdict = { valid: true } | { valid: false; brokenAt: number; reason: string };

/**
 * Recomputes a chain from the genesis hash: `{valid: true}` or the index of the first link that
 * breaks it (an edit, an insertion, a deletion or a reorder all break the link they touch).
 */
export function verifyHashChain(links: readonly ChainLink[], options: ChainHashOptions = {}): ChainVerdict {
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < links.length; i++) {
    const link = links[i];
    if (link.prevHash !== prevHash) return { valid: false, brokenAt: i, reason: 'previous hash does not match' };
    if (chainHash(link.prevHash, link.body, options) !== link.hash) return { valid: false, brokenAt: i, reason: 'entry content was altered' };
    prevHash = link.hash;
  }
  return { valid: true };
}

function entryLink(entry: AuditEntry): ChainLink {
  const { hash, prevHash, ...body } = entry;
  return { prevHash, hash, body: body };
}

/** HMAC-SHA256 under the audit key: equal secrets give equal fingerprints; the secret is not recoverable. */
export function fingerprint(auditKey: Uint8Array | string, secret: string): string {
  // Stryker disable next-line ConditionalExpression: Buffer.from(bytes, 'base64') ignores the encoding and copies the bytes, which HMAC uses alike
  const key = typeof auditKey === 'string' ? Buffer.from(auditKey, 'base64') : auditKey;
  const mac = createHmac('sha256', key);
  // Stryker disable next-line StringLiteral: hmac.update(s, '') reads s as UTF-8 too (Node's default encoding)
  mac.update(secret, 'utf8');
  return `hmac-sha256:${mac.digest('hex').slice(0, 32)}`;
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
  const { prevHash, ...content } = body;
  return { ...body, hash: chainHash(prevHash, content) };
}

/** `{valid: true}` or the index of the first entry that breaks the chain (or its `seq` numbering). */
export function verifyAuditChain(entries: AuditEntry[]): ChainVerdict {
  const gap = entries.findIndex((entry, i) => entry.seq !== i + 1);
  const chain = verifyHashChain(entries.map(entryLink));
  if (gap >= 0 && (chain.valid || gap <= chain.brokenAt)) return { valid: false, brokenAt: gap, reason: 'sequence gap or reorder' };
  return chain;
}
