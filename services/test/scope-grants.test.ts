import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { covers, grants, SCOPES, type Scope } from '../src/shared/auth/scopes.js';

/**
 * What each API key scope grants, as properties over any set of held scopes. Pure: no app, no
 * database (test/scopes.test.ts checks that the routes ask for the right scope).
 */
const scope = fc.constantFrom(...SCOPES);
const scopes = fc.array(scope, { maxLength: 6 });
/** Held scopes as stored: known ones mixed with strings a later version removed. */
const held = fc.array(fc.oneof(scope, fc.constantFrom('vault:read', 'tasks:write', 'Admin', '', ' read')), { maxLength: 6 });

/** The intended hierarchy, written out: what a key holding `scope` may do. */
const EXPECTED: Record<Scope, readonly Scope[]> = {
  '*': ['*', 'admin', 'write', 'read'],
  admin: ['admin', 'write', 'read'],
  write: ['write', 'read'],
  read: ['read'],
};

describe('grants', () => {
  it('each scope grants exactly itself and the scopes below it', () => {
    for (const heldScope of SCOPES) {
      for (const needed of SCOPES) expect(grants([heldScope], needed), `${heldScope} → ${needed}`).toBe(EXPECTED[heldScope].includes(needed));
    }
  });

  it('nothing is granted by no scopes or by unknown scope names', () => {
    fc.assert(fc.property(fc.array(fc.string().filter((s) => !(SCOPES as readonly string[]).includes(s))), scope, (unknown, needed) => {
      expect(grants(unknown, needed)).toBe(false);
    }));
  });

  it('a set of scopes grants what any one of its members grants, and nothing else', () => {
    fc.assert(fc.property(held, scope, (heldScopes, needed) => {
      const expected = heldScopes.some((s) => s in EXPECTED && EXPECTED[s as Scope].includes(needed));
      expect(grants(heldScopes, needed)).toBe(expected);
    }));
  });

  it('is monotone: holding more scopes never grants less', () => {
    fc.assert(fc.property(held, held, scope, (some, more, needed) => {
      if (grants(some, needed)) expect(grants([...some, ...more], needed)).toBe(true);
      if (grants(some, needed)) expect(grants([...more, ...some], needed)).toBe(true);
    }));
  });

  it('* grants everything, whatever else is held', () => {
    fc.assert(fc.property(held, held, scope, (before, after, needed) => {
      expect(grants([...before, '*', ...after], needed)).toBe(true);
    }));
  });

  it('only * grants *', () => {
    fc.assert(fc.property(held, (heldScopes) => {
      expect(grants(heldScopes, '*')).toBe(heldScopes.includes('*'));
    }));
  });
});

describe('covers', () => {
  it('a key may mint a key with the requested scopes exactly when it grants each of them', () => {
    fc.assert(fc.property(held, scopes, (heldScopes, requested) => {
      expect(covers(heldScopes, requested)).toBe(requested.every((s) => grants(heldScopes, s)));
    }));
  });

  it('never lets a key mint a wider one: what the new key grants, the old one grants', () => {
    fc.assert(fc.property(held, scopes, scope, (heldScopes, requested, needed) => {
      if (covers(heldScopes, requested) && grants(requested, needed)) expect(grants(heldScopes, needed)).toBe(true);
    }));
  });

  it('covers itself and nothing requested; not * from admin', () => {
    fc.assert(fc.property(scopes, (s) => { expect(covers(s, s)).toBe(true); expect(covers(s, [])).toBe(true); }));
    expect(covers(['admin'], ['*'])).toBe(false);
    expect(covers(['admin'], ['admin', 'read'])).toBe(true);
    expect(covers([], ['read'])).toBe(false);
  });
});
