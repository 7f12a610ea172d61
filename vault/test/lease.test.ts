import { describe, expect, it } from 'vitest';
import {
  approveLease, canTransition, denyLease, expireIfDue, IllegalTransitionError, ManualClock, renewLease, requestLease, revokeLease,
  useLease, VaultError, type Lease, type LeaseStatus,
} from '../src/index.js';

const base = { itemId: 'item_1', requesterId: 'agent_1', reason: 'DB migration', ttlSeconds: 600, maxTtlSeconds: 3600 };

function code(fn: () => unknown): string {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); return (err as VaultError).code; }
  throw new Error('expected a VaultError');
}

describe('lease state machine', () => {
  it('goes requested → approved → active → expired with timestamps from the clock', () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const requested = requestLease(base, clock);
    expect(requested).toMatchObject({ status: 'requested', usesCount: 0, requestedAt: '2026-01-01T12:00:00.000Z', expiresAt: null });
    clock.advance(60_000);
    const approved = approveLease(requested, 'human_1', clock, 'ok');
    expect(approved).toMatchObject({ status: 'approved', decidedBy: 'human_1', decidedAt: '2026-01-01T12:01:00.000Z', expiresAt: '2026-01-01T12:11:00.000Z' });
    clock.advance(1_000);
    const active = useLease(approved, clock);
    expect(active).toMatchObject({ status: 'active', usesCount: 1, activatedAt: '2026-01-01T12:01:01.000Z' });
    clock.advance(600_000);
    expect(code(() => useLease(active, clock))).toBe('lease_expired');
    expect(expireIfDue(active, clock)).toMatchObject({ status: 'expired', endedAt: '2026-01-01T12:11:01.000Z' });
  });

  it('checks the TTL at every use, to the millisecond', () => {
    const clock = new ManualClock();
    const lease = approveLease(requestLease(base, clock), 'human_1', clock);
    clock.advance(599_999);
    expect(useLease(lease, clock).status).toBe('active');
    clock.advance(1);
    expect(code(() => useLease(lease, clock))).toBe('lease_expired');
  });

  it('refuses self-approval; one denial ends it', () => {
    const clock = new ManualClock();
    const lease = requestLease(base, clock);
    expect(code(() => approveLease(lease, 'agent_1', clock))).toBe('self_approval');
    const denied = denyLease(lease, 'human_1', clock, 'not now');
    expect(denied).toMatchObject({ status: 'denied', decidedBy: 'human_1', decisionNote: 'not now' });
    expect(() => approveLease(denied, 'human_2', clock)).toThrow(IllegalTransitionError);
    expect(code(() => useLease(denied, clock))).toBe('lease_not_active');
  });

  it('expires a pending request that nobody decided', () => {
    const clock = new ManualClock();
    const lease = requestLease({ ...base, pendingTimeoutSeconds: 300 }, clock);
    clock.advance(300_000);
    expect(expireIfDue(lease, clock).status).toBe('expired');
    expect(code(() => approveLease(lease, 'human_1', clock))).toBe('lease_expired');
  });

  it('enforces single-use and multi-use budgets', () => {
    const clock = new ManualClock();
    const once = approveLease(requestLease({ ...base, usesAllowed: 1 }, clock), 'human_1', clock);
    const used = useLease(once, clock);
    expect(code(() => useLease(used, clock))).toBe('lease_exhausted');
    let thrice = approveLease(requestLease({ ...base, usesAllowed: 3 }, clock), 'human_1', clock);
    for (let i = 0; i < 3; i++) thrice = useLease(thrice, clock);
    expect(thrice.usesCount).toBe(3);
    expect(code(() => useLease(thrice, clock))).toBe('lease_exhausted');
    let unlimited = approveLease(requestLease(base, clock), 'human_1', clock);
    for (let i = 0; i < 50; i++) unlimited = useLease(unlimited, clock);
    expect(unlimited.usesCount).toBe(50);
  });

  it('caps renewals at maxTtl counted from now', () => {
    const clock = new ManualClock(0);
    const lease = approveLease(requestLease(base, clock), 'human_1', clock); // expires at 600 s
    const renewed = renewLease(lease, 600, clock);
    expect(Date.parse(renewed.expiresAt!)).toBe(1_200_000);
    const capped = renewLease(renewed, 100_000, clock);
    expect(Date.parse(capped.expiresAt!)).toBe(3_600_000);
    clock.advance(3_000_000);
    expect(Date.parse(renewLease(capped, 100_000, clock).expiresAt!)).toBe(3_000_000 + 3_600_000);
    clock.set(10_000_000);
    expect(code(() => renewLease(capped, 60, clock))).toBe('lease_expired');
    expect(code(() => renewLease(lease, 0, clock))).toBe('invalid_lease');
  });

  it('revocation is immediate and final', () => {
    const clock = new ManualClock();
    const active = useLease(approveLease(requestLease(base, clock), 'human_1', clock), clock);
    const revoked = revokeLease(active, 'human_1', clock);
    expect(revoked).toMatchObject({ status: 'revoked', revokedBy: 'human_1' });
    expect(code(() => useLease(revoked, clock))).toBe('lease_revoked');
    expect(code(() => renewLease(revoked, 60, clock))).toBe('lease_revoked');
    expect(() => revokeLease(revoked, 'human_1', clock)).toThrow(IllegalTransitionError);
    expect(() => approveLease(revoked, 'human_2', clock)).toThrow(IllegalTransitionError);
  });

  it('allows exactly the documented transitions', () => {
    const all: LeaseStatus[] = ['requested', 'approved', 'denied', 'active', 'expired', 'revoked'];
    const legal = new Set(['requested>approved', 'requested>denied', 'requested>expired', 'requested>revoked', 'approved>active', 'approved>expired', 'approved>revoked', 'active>active', 'active>expired', 'active>revoked']);
    for (const from of all) for (const to of all) expect(canTransition(from, to), `${from}>${to}`).toBe(legal.has(`${from}>${to}`));
  });

  it('names from and to in illegal-transition errors', () => {
    const clock = new ManualClock();
    const lease: Lease = { ...requestLease(base, clock), status: 'expired' };
    try { approveLease(lease, 'human_1', clock); } catch (err) {
      expect(err).toBeInstanceOf(IllegalTransitionError);
      expect((err as IllegalTransitionError).from).toBe('expired');
      expect((err as IllegalTransitionError).to).toBe('approved');
    }
  });

  it('validates requests', () => {
    const clock = new ManualClock();
    expect(code(() => requestLease({ ...base, reason: ' ' }, clock))).toBe('invalid_lease');
    expect(code(() => requestLease({ ...base, ttlSeconds: 0 }, clock))).toBe('invalid_lease');
    expect(code(() => requestLease({ ...base, maxTtlSeconds: 10 }, clock))).toBe('invalid_lease');
    expect(code(() => requestLease({ ...base, usesAllowed: 0 }, clock))).toBe('invalid_lease');
  });
});
