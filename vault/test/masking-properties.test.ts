import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SENSITIVE, isMasked, validateMaskingPolicy, VaultError } from '../src/index.js';

function failure(fn: () => unknown): VaultError {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); return err as VaultError; }
  throw new Error('expected a VaultError');
}

const normalized = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

describe('masking (properties)', () => {
  it('masks by default exactly the keys that contain a sensitive word, ignoring case and separators', () => {
    fc.assert(fc.property(fc.string({ maxLength: 16 }), (key) => {
      expect(isMasked(key)).toBe(DEFAULT_SENSITIVE.some((word) => normalized(key).includes(word)));
    }));
    for (const key of ['API-Key', 'api_key', 'Pass Word', 'P.I.N', 'client-secret']) expect(isMasked(key), key).toBe(true);
  });

  it('matches policy entries with case and separators ignored, and only the listed keys', () => {
    const policy = validateMaskingPolicy({ alwaysMask: ['user-name'], neverMask: ['api_key'] });
    expect(isMasked('UserName', policy)).toBe(true);
    expect(isMasked('user name', policy)).toBe(true);
    expect(isMasked('API Key', policy)).toBe(false);
    expect(isMasked('password', policy)).toBe(true);
    expect(isMasked('email', policy)).toBe(false);
  });
});

describe('masking policy validation', () => {
  it('says what is wrong', () => {
    const cases: Array<[unknown, string]> = [
      [null, 'a masking policy is an object {alwaysMask, neverMask}'],
      [42, 'a masking policy is an object {alwaysMask, neverMask}'],
      ['x', 'a masking policy is an object {alwaysMask, neverMask}'],
      [[], 'a masking policy is an object {alwaysMask, neverMask}'],
      [{ mask: [] }, 'unknown masking policy key "mask"'],
      [{ alwaysMask: ['a'.repeat(101)] }, 'alwaysMask must be an array of non-empty field keys (at most 100 characters)'],
      [{ neverMask: [''] }, 'neverMask must be an array of non-empty field keys (at most 100 characters)'],
      [{ neverMask: Array.from({ length: 201 }, (_, i) => `k${i}`) }, 'neverMask lists more than 200 keys'],
    ];
    for (const [input, message] of cases) expect(failure(() => validateMaskingPolicy(input)), message).toMatchObject({ code: 'invalid_policy', message });
  });

  it('accepts keys up to 100 characters and lists up to 200 keys, without duplicates', () => {
    const many = Array.from({ length: 200 }, (_, i) => `k${i}`);
    expect(validateMaskingPolicy({ alwaysMask: ['a'.repeat(100), 'a'.repeat(100)], neverMask: many })).toEqual({ alwaysMask: ['a'.repeat(100)], neverMask: many });
  });
});
