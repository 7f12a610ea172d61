import { EventType, inboxStream, type LeaseStatus, type VaultLease } from '@sesamespace/sdk/protocol';
import type { Lease } from '@sesamespace/vault';
import type { Updateable } from 'kysely';
import type { VaultLeaseRow, VaultLeaseTable } from '../db/schema.js';
import type { EventBatch } from '../events.js';

/**
 * Stored leases ↔ the `vault` package's lease state machine, and the lease as the wire shows it.
 * Shared by the api's vault routes and the worker's expiry job.
 */

const isoOrNull = (d: Date | string | null) => (d == null ? null : new Date(d).toISOString());

/** A stored lease as the state machine sees it (`pending` is its `requested`). */
export function toLease(row: VaultLeaseRow): Lease {
  return {
    id: row.id, itemId: row.item_id, requesterId: row.requester_id, reason: row.reason, status: row.status === 'pending' ? 'requested' : row.status,
    ttlSeconds: row.ttl_seconds, maxTtlSeconds: row.max_ttl_seconds, usesAllowed: row.uses_allowed, usesCount: row.uses_count,
    requestedAt: row.requested_at.toISOString(), pendingExpiresAt: row.pending_expires_at.toISOString(), decidedAt: isoOrNull(row.decided_at),
    decidedBy: row.decided_by, decisionNote: row.decision_note, activatedAt: isoOrNull(row.activated_at), expiresAt: isoOrNull(row.expires_at),
    lastUsedAt: isoOrNull(row.last_used_at), revokedAt: isoOrNull(row.revoked_at), revokedBy: row.revoked_by, endedAt: isoOrNull(row.ended_at),
  };
}

/** The columns a transition of the state machine changed. */
export function leaseColumns(lease: Lease): Updateable<VaultLeaseTable> {
  const status: LeaseStatus = lease.status === 'requested' ? 'pending' : lease.status;
  return {
    status, ttl_seconds: lease.ttlSeconds, uses_count: lease.usesCount, decided_at: lease.decidedAt, decided_by: lease.decidedBy,
    decision_note: lease.decisionNote, activated_at: lease.activatedAt, expires_at: lease.expiresAt, last_used_at: lease.lastUsedAt,
    revoked_at: lease.revokedAt, revoked_by: lease.revokedBy, ended_at: lease.endedAt,
  };
}

export function leaseToWire(l: VaultLeaseRow): VaultLease {
  return {
    id: l.id, vaultId: l.vault_id, itemId: l.item_id, requesterId: l.requester_id, reason: l.reason, hostname: l.hostname, status: l.status,
    ttlSeconds: l.ttl_seconds, maxTtlSeconds: l.max_ttl_seconds, usesCount: l.uses_count, requestedAt: new Date(l.requested_at).toISOString(),
    pendingExpiresAt: new Date(l.pending_expires_at).toISOString(), decidedAt: isoOrNull(l.decided_at), decidedBy: l.decided_by, decisionNote: l.decision_note,
    activatedAt: isoOrNull(l.activated_at), expiresAt: isoOrNull(l.expires_at), lastUsedAt: isoOrNull(l.last_used_at), revokedAt: isoOrNull(l.revoked_at),
    revokedBy: l.revoked_by, endedAt: isoOrNull(l.ended_at),
  };
}

/** `vault.lease_updated` on the requester's inbox stream: the lease after a change. */
export async function notifyRequester(events: EventBatch, row: VaultLeaseRow): Promise<void> {
  await events.append(inboxStream(row.requester_id), EventType.LeaseUpdated, { lease: leaseToWire(row) });
}
