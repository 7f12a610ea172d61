import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  approveLease, canTransition, denyLease, expireIfDue, IllegalTransitionError, ManualClock, renewLease, requestLease, revokeLease,
  TERMINAL, useLease, VaultError, type Lease, type LeaseStatus,
} from '../src/index.js';

const base = { itemId: 'item_1', requesterId: 'agent_1', reason: 'DB migration', ttlSeconds: 600, maxTtlSeconds: 3600 };
const ALL: LeaseStatus[] = ['requested', 'approved', 'denied', 'active', 'expired', 'revoked'];

function failure(fn: () => unknown): VaultError {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); return err as VaultError; }
  throw new Error('expected a VaultError');
}

type Op =
  | { kind: 'approve'; self: boolean } | { kind: 'deny'; self: boolean } | { kind: 'use' } | { kind: 'renew'; seconds: number }
  | { kind: 'revoke' } | { kind: 'expire' } | { kind: 'advance'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('approve' as const), self: fc.boolean() }),
  fc.record({ kind: fc.constant('deny' as const), self: fc.boolean() }),
  fc.constant({ kind: 'use' as const }),
  fc.record({ kind: fc.constant('renew' as const), seconds: fc.integer({ min: 1, max: 10_000 }) }),
  fc.constant({ kind: 'revoke' as const }),
  fc.constant({ kind: 'expire' as const }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500_000 }) }),
);

const request = fc.record({
  ttlSeconds: fc.integer({ min: 1, max: 2_000 }),
  extraMax: fc.integer({ min: 0, max: 4_000 }),
  usesAllowed: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null }),
  pendingTimeoutSeconds: fc.integer({ min: 1, max: 2_000 }),
});

function apply(lease: Lease, step: Op, clock: ManualClock): Lease {
  switch (step.kind) {
    case 'approve': return approveLease(lease, step.self ? lease.requesterId : 'human_1', clock);
    case 'deny': return denyLease(lease, step.self ? lease.requesterId : 'human_1', clock);
    case 'use': return useLease(lease, clock);
    case 'renew': return renewLease(lease, step.seconds, clock);
    case 'revoke': return revokeLease(lease, 'human_2', clock);
    case 'expire': return expireIfDue(lease, clock);
    case 'advance': clock.advance(step.ms); return lease;
  }
}

describe('lease state machine (properties)', () => {
  it('keeps its invariants under any sequence of operations', () => {
    fc.assert(fc.property(request, fc.array(op, { maxLength: 25 }), (req, ops) => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      let lease = requestLease({ ...base, ...req, maxTtlSeconds: req.ttlSeconds + req.extraMax }, clock);
      for (const step of ops) {
        const before = lease;
        const now = clock.now().getTime();
        const expiry = before.expiresAt === null ? null : Date.parse(before.expiresAt);
        let after: Lease;
        try {
          after = apply(before, step, clock);
        } catch (err) {
          expect(err).toBeInstanceOf(VaultError);
          // A refused operation leaves nothing behind, and never refuses a legitimate use.
          if (step.kind === 'use') {
            const usable = (before.status === 'approved' || before.status === 'active') && expiry !== null && now < expiry
              && (before.usesAllowed === null || before.usesCount < before.usesAllowed);
            expect(usable).toBe(false);
          }
          if (step.kind === 'approve' || step.kind === 'deny') {
            expect(step.self || before.status !== 'requested' || now >= Date.parse(before.pendingExpiresAt)).toBe(true);
          }
          if (step.kind === 'revoke') expect(TERMINAL.has(before.status)).toBe(true);
          if (step.kind === 'renew') {
            const renewable = (before.status === 'approved' || before.status === 'active') && expiry !== null && now < expiry;
            expect(renewable).toBe(false);
          }
          continue;
        }
        // Only documented transitions happen, and a final state never changes again.
        if (after.status !== before.status) expect(canTransition(before.status, after.status), `${before.status}>${after.status}`).toBe(true);
        if (TERMINAL.has(before.status)) expect(after).toBe(before);
        // Never active (or usable) once revoked, denied or expired.
        if (step.kind === 'use') {
          expect(after.status).toBe('active');
          expect(now).toBeLessThan(expiry!);
          expect(after.usesCount).toBe(before.usesCount + 1);
          expect(after.lastUsedAt).toBe(new Date(now).toISOString());
          expect(after.activatedAt).toBe(before.activatedAt ?? new Date(now).toISOString());
        }
        if (after.usesAllowed !== null) expect(after.usesCount).toBeLessThanOrEqual(after.usesAllowed);
        // Renewals extend, but never beyond max TTL from now.
        if (step.kind === 'renew') {
          const renewed = Date.parse(after.expiresAt!);
          expect(renewed).toBeGreaterThanOrEqual(expiry!);
          expect(renewed).toBeLessThanOrEqual(now + after.maxTtlSeconds * 1000);
          expect(renewed).toBe(Math.min(expiry! + step.seconds * 1000, now + after.maxTtlSeconds * 1000));
        }
        if (step.kind === 'approve') expect(Date.parse(after.expiresAt!)).toBe(now + after.ttlSeconds * 1000);
        if (after.status === 'expired' && before.status !== 'expired') expect(after.endedAt).toBe(new Date(now).toISOString());
        if (step.kind === 'revoke') expect(after).toMatchObject({ revokedBy: 'human_2', revokedAt: new Date(now).toISOString(), endedAt: new Date(now).toISOString() });
        lease = after;
      }
    }), { numRuns: 300 });
  });

  it('has exactly the final states that allow no transition', () => {
    expect([...TERMINAL].sort()).toEqual(['denied', 'expired', 'revoked']);
    for (const from of ALL) expect(TERMINAL.has(from), from).toBe(ALL.every((to) => !canTransition(from, to)));
  });
});

describe('lease requests', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));

  it('fills defaults: its own id, max TTL = TTL, unlimited uses, 15 minutes to decide, a trimmed reason', () => {
    const lease = requestLease({ itemId: 'i', requesterId: 'r', reason: '  why  ', ttlSeconds: 1 }, clock);
    expect(lease).toMatchObject({ itemId: 'i', requesterId: 'r', reason: 'why', ttlSeconds: 1, maxTtlSeconds: 1, usesAllowed: null, usesCount: 0, status: 'requested' });
    expect(lease.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(requestLease(base, clock).id).not.toBe(lease.id);
    expect(lease.pendingExpiresAt).toBe('2026-01-01T00:15:00.000Z');
    expect(requestLease({ ...base, id: 'lease_7', usesAllowed: null, maxTtlSeconds: 600 }, clock)).toMatchObject({ id: 'lease_7', usesAllowed: null, maxTtlSeconds: 600 });
    expect(requestLease({ ...base, usesAllowed: 1 }, clock).usesAllowed).toBe(1);
  });

  it('says what is wrong with an invalid request', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ itemId: '' }, 'a lease needs an itemId and a requesterId'],
      [{ requesterId: '' }, 'a lease needs an itemId and a requesterId'],
      [{ reason: 42 }, 'a lease request needs a reason'],
      [{ reason: ' \n' }, 'a lease request needs a reason'],
      [{ ttlSeconds: 0 }, 'ttlSeconds must be a positive integer'],
      [{ ttlSeconds: 1.5 }, 'ttlSeconds must be a positive integer'],
      [{ maxTtlSeconds: 599 }, 'maxTtlSeconds must be an integer ≥ ttlSeconds'],
      [{ maxTtlSeconds: 600.5 }, 'maxTtlSeconds must be an integer ≥ ttlSeconds'],
      [{ usesAllowed: 0 }, 'usesAllowed must be a positive integer or null (unlimited)'],
      [{ usesAllowed: 1.5 }, 'usesAllowed must be a positive integer or null (unlimited)'],
    ];
    for (const [change, message] of cases) {
      expect(failure(() => requestLease({ ...base, ...change }, clock)), JSON.stringify(change)).toMatchObject({ code: 'invalid_lease', message });
    }
  });
});

describe('lease decisions and uses: errors', () => {
  it('records the approval note (or null) and refuses self-decisions either way', () => {
    const clock = new ManualClock();
    const lease = requestLease(base, clock);
    expect(approveLease(lease, 'human_1', clock, 'go').decisionNote).toBe('go');
    expect(approveLease(lease, 'human_1', clock).decisionNote).toBeNull();
    expect(denyLease(lease, 'human_1', clock).decisionNote).toBeNull();
    expect(failure(() => approveLease(lease, 'agent_1', clock))).toMatchObject({ code: 'self_approval', message: 'a lease must be approved by someone other than its requester' });
    expect(failure(() => denyLease(lease, 'agent_1', clock))).toMatchObject({ code: 'self_approval', message: 'a lease must be decided by someone other than its requester' });
    clock.advance(15 * 60_000);
    expect(failure(() => approveLease(lease, 'human_1', clock))).toMatchObject({ code: 'lease_expired', message: 'the request expired before it was decided' });
  });

  it('explains why a use or a renewal is refused', () => {
    const clock = new ManualClock();
    const requested = requestLease({ ...base, usesAllowed: 1 }, clock);
    expect(failure(() => useLease(requested, clock))).toMatchObject({ code: 'lease_not_active', message: 'the lease is requested, not approved' });
    const renewRequested = (() => { try { renewLease(requested, 60, clock); } catch (err) { return err; } return null; })();
    expect(renewRequested).toBeInstanceOf(IllegalTransitionError);
    expect(renewRequested).toMatchObject({ from: 'requested', to: 'requested' });
    const approved = approveLease(requested, 'human_1', clock);
    expect(Date.parse(renewLease(approved, 1, clock).expiresAt!)).toBe(Date.parse(approved.expiresAt!) + 1000);
    expect(failure(() => renewLease(approved, 0.5, clock))).toMatchObject({ code: 'invalid_lease', message: 'a renewal must add a positive number of seconds' });
    const used = useLease(approved, clock);
    expect(Date.parse(renewLease(used, 60, clock).expiresAt!)).toBe(Date.parse(used.expiresAt!) + 60_000);
    expect(failure(() => useLease(used, clock))).toMatchObject({ code: 'lease_exhausted', message: 'the lease has no uses left' });
    const revoked = revokeLease(used, 'human_1', clock);
    expect(failure(() => useLease(revoked, clock))).toMatchObject({ code: 'lease_revoked', message: 'the lease was revoked' });
    expect(failure(() => renewLease(revoked, 60, clock))).toMatchObject({ code: 'lease_revoked', message: 'the lease was revoked' });
    clock.advance(600_000);
    expect(failure(() => useLease(approved, clock))).toMatchObject({ code: 'lease_expired', message: 'the lease has expired' });
    expect(failure(() => renewLease(approved, 60, clock))).toMatchObject({ code: 'lease_expired', message: 'an expired lease cannot be renewed; request a new one' });
  });
});
