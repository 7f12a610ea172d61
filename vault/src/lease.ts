import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import { IllegalTransitionError, VaultError } from './errors.js';

/**
 * Just-in-time access to one vault item.
 *
 *   requested ──approve──▶ approved ──use──▶ active ──▶ expired | revoked
 *       │  └──deny──▶ denied (final)   └──▶ expired | revoked
 *       └──(pending timeout)──▶ expired      (cancel ──▶ revoked)
 *
 * The TTL clock starts at approval; every use re-checks it against the injected clock, so an
 * expired lease is refused even if no sweeper has marked it yet.
 */
export type LeaseStatus = 'requested' | 'approved' | 'denied' | 'active' | 'expired' | 'revoked';

export interface Lease {
  id: string;
  itemId: string;
  requesterId: string;
  reason: string;
  status: LeaseStatus;
  ttlSeconds: number;
  maxTtlSeconds: number;
  /** null = unlimited uses within the TTL; 1 = single-use. */
  usesAllowed: number | null;
  usesCount: number;
  requestedAt: string;
  /** A pending request lapses at this time. */
  pendingExpiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionNote: string | null;
  activatedAt: string | null;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  endedAt: string | null;
}

export const TERMINAL: ReadonlySet<LeaseStatus> = new Set(['denied', 'expired', 'revoked']);

const ALLOWED: Record<LeaseStatus, LeaseStatus[]> = {
  requested: ['approved', 'denied', 'expired', 'revoked'],
  approved: ['active', 'expired', 'revoked'],
  active: ['active', 'expired', 'revoked'],
  // Stryker disable next-line ArrayDeclaration: a terminal state's list holds no LeaseStatus either way, so canTransition answers the same
  denied: [],
  // Stryker disable next-line ArrayDeclaration: a terminal state's list holds no LeaseStatus either way, so canTransition answers the same
  expired: [],
  // Stryker disable next-line ArrayDeclaration: a terminal state's list holds no LeaseStatus either way, so canTransition answers the same
  revoked: [],
};

export function canTransition(from: LeaseStatus, to: LeaseStatus): boolean {
  return ALLOWED[from].includes(to);
}

function assertTransition(lease: Lease, to: LeaseStatus) {
  if (!canTransition(lease.status, to)) throw new IllegalTransitionError(lease.status, to);
}

export interface LeaseRequest {
  itemId: string;
  requesterId: string;
  reason: string;
  ttlSeconds: number;
  maxTtlSeconds?: number;
  usesAllowed?: number | null;
  /** How long a request may wait for a decision. Default 15 minutes. */
  pendingTimeoutSeconds?: number;
  id?: string;
}

export const DEFAULT_PENDING_TIMEOUT_SECONDS = 15 * 60;
const iso = (d: Date) => d.toISOString();
const at = (clock: Clock, plusSeconds = 0) => new Date(clock.now().getTime() + plusSeconds * 1000);

export function requestLease(input: LeaseRequest, clock: Clock): Lease {
  const maxTtl = input.maxTtlSeconds ?? input.ttlSeconds;
  if (!input.itemId || !input.requesterId) throw new VaultError('invalid_lease', 'a lease needs an itemId and a requesterId');
  if (typeof input.reason !== 'string' || !input.reason.trim()) throw new VaultError('invalid_lease', 'a lease request needs a reason');
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < 1) throw new VaultError('invalid_lease', 'ttlSeconds must be a positive integer');
  if (!Number.isInteger(maxTtl) || maxTtl < input.ttlSeconds) throw new VaultError('invalid_lease', 'maxTtlSeconds must be an integer ≥ ttlSeconds');
  if (input.usesAllowed !== undefined && input.usesAllowed !== null && (!Number.isInteger(input.usesAllowed) || input.usesAllowed < 1)) {
    throw new VaultError('invalid_lease', 'usesAllowed must be a positive integer or null (unlimited)');
  }
  const now = clock.now();
  return {
    id: input.id ?? randomUUID(), itemId: input.itemId, requesterId: input.requesterId, reason: input.reason.trim(), status: 'requested',
    ttlSeconds: input.ttlSeconds, maxTtlSeconds: maxTtl, usesAllowed: input.usesAllowed ?? null, usesCount: 0,
    requestedAt: iso(now), pendingExpiresAt: iso(at(clock, input.pendingTimeoutSeconds ?? DEFAULT_PENDING_TIMEOUT_SECONDS)),
    decidedAt: null, decidedBy: null, decisionNote: null, activatedAt: null, expiresAt: null, lastUsedAt: null, revokedAt: null, revokedBy: null, endedAt: null,
  };
}

/** Marks the lease expired if its pending window or TTL has passed; otherwise returns it unchanged. */
export function expireIfDue(lease: Lease, clock: Clock): Lease {
  const now = clock.now().getTime();
  // Stryker disable next-line StringLiteral: Date.parse of '' and of any other non-date text are both NaN
  const expiry = Date.parse(lease.expiresAt ?? '');
  const due = lease.status === 'requested' ? Date.parse(lease.pendingExpiresAt)
    : lease.status === 'approved' || lease.status === 'active' ? expiry : Infinity;
  if (now < due) return lease;
  return { ...lease, status: 'expired', endedAt: iso(clock.now()) };
}

/** Approval by someone other than the requester starts the TTL clock. */
export function approveLease(lease: Lease, approverId: string, clock: Clock, note?: string): Lease {
  const current = expireIfDue(lease, clock);
  if (current.status === 'expired' && lease.status === 'requested') throw new VaultError('lease_expired', 'the request expired before it was decided');
  assertTransition(current, 'approved');
  if (approverId === current.requesterId) throw new VaultError('self_approval', 'a lease must be approved by someone other than its requester');
  const now = clock.now();
  return { ...current, status: 'approved', decidedAt: iso(now), decidedBy: approverId, decisionNote: note ?? null, expiresAt: iso(at(clock, current.ttlSeconds)) };
}

/** One denial ends the request. */
export function denyLease(lease: Lease, approverId: string, clock: Clock, note?: string): Lease {
  const current = expireIfDue(lease, clock);
  assertTransition(current, 'denied');
  if (approverId === current.requesterId) throw new VaultError('self_approval', 'a lease must be decided by someone other than its requester');
  const now = iso(clock.now());
  return { ...current, status: 'denied', decidedAt: now, decidedBy: approverId, decisionNote: note ?? null, endedAt: now };
}

/**
 * Records one use of the secret. Checks status, TTL (against the clock, every time) and the use
 * budget; the first use activates an approved lease.
 */
export function useLease(lease: Lease, clock: Clock): Lease {
  if (lease.status === 'revoked') throw new VaultError('lease_revoked', 'the lease was revoked');
  const current = expireIfDue(lease, clock);
  if (current.status === 'expired') throw new VaultError('lease_expired', 'the lease has expired');
  if (current.status !== 'approved' && current.status !== 'active') throw new VaultError('lease_not_active', `the lease is ${current.status}, not approved`);
  if (current.usesAllowed !== null && current.usesCount >= current.usesAllowed) throw new VaultError('lease_exhausted', 'the lease has no uses left');
  assertTransition(current, 'active');
  const now = iso(clock.now());
  return { ...current, status: 'active', activatedAt: current.activatedAt ?? now, usesCount: current.usesCount + 1, lastUsedAt: now };
}

/**
 * Extends an approved or active lease. The new expiry is at most `maxTtlSeconds` from now
 * (never a cumulative allowance), and never earlier than the current one.
 */
export function renewLease(lease: Lease, extraSeconds: number, clock: Clock): Lease {
  if (!Number.isInteger(extraSeconds) || extraSeconds < 1) throw new VaultError('invalid_lease', 'a renewal must add a positive number of seconds');
  if (lease.status === 'revoked') throw new VaultError('lease_revoked', 'the lease was revoked');
  const current = expireIfDue(lease, clock);
  if (current.status === 'expired') throw new VaultError('lease_expired', 'an expired lease cannot be renewed; request a new one');
  if (current.status !== 'approved' && current.status !== 'active') throw new IllegalTransitionError(current.status, current.status);
  const now = clock.now().getTime();
  // Stryker disable next-line StringLiteral: Date.parse of '' and of any other non-date text are both NaN
  const requested = Date.parse(current.expiresAt ?? '') + extraSeconds * 1000;
  const cap = now + current.maxTtlSeconds * 1000;
  return { ...current, expiresAt: new Date(Math.min(requested, cap)).toISOString() };
}

/** Immediate and final: no later use, renewal or approval succeeds. */
export function revokeLease(lease: Lease, byId: string, clock: Clock): Lease {
  assertTransition(lease, 'revoked');
  const now = iso(clock.now());
  return { ...lease, status: 'revoked', revokedAt: now, revokedBy: byId, endedAt: now };
}
