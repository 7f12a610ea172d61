import { describe, expect, it } from 'vitest';
import { IllegalTransitionError, ManualClock, systemClock, VaultError } from '../src/index.js';

describe('errors', () => {
  it('carry a stable code and name', () => {
    const err = new VaultError('invalid_key', 'bad key');
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'invalid_key', message: 'bad key', name: 'VaultError' });
    expect(String(err)).toBe('VaultError: bad key');
  });

  it('name both states of an illegal transition', () => {
    const err = new IllegalTransitionError('expired', 'active');
    expect(err).toBeInstanceOf(VaultError);
    expect(err).toMatchObject({ code: 'illegal_transition', from: 'expired', to: 'active', name: 'IllegalTransitionError', message: 'a lease cannot go from expired to active' });
  });
});

describe('clocks', () => {
  it('the system clock reads the current time', () => {
    const before = Date.now();
    const now = systemClock.now();
    const after = Date.now();
    expect(now).toBeInstanceOf(Date);
    expect(now.getTime()).toBeGreaterThanOrEqual(before);
    expect(now.getTime()).toBeLessThanOrEqual(after);
  });

  it('a manual clock starts where told (2026-01-01 by default) and moves only when told', () => {
    expect(new ManualClock().now().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    const clock = new ManualClock(new Date(1_000));
    clock.advance(500);
    expect(clock.now().getTime()).toBe(1_500);
    clock.set(42);
    expect(clock.now().getTime()).toBe(42);
  });
});
