import { describe, expect, it } from 'vitest';
import { describeFields, isMasked, maskValue, validateMaskingPolicy, VaultError } from '../src/index.js';

describe('masking', () => {
  it('masks sensitive keys by default and shows the rest', () => {
    const fields = { username: 'ann', password: 'correct-horse-battery', apiKey: 'sk_live_abcdefghijkl', url: 'https://db.example.com', pin: '1234', 'TOTP Secret': 'JBSWY3DPEHPK3PXP' };
    const { fieldKeys, fieldHints, masked } = describeFields(fields);
    expect(fieldKeys).toEqual(Object.keys(fields).sort());
    expect(masked.sort()).toEqual(['TOTP Secret', 'apiKey', 'password', 'pin'].sort());
    expect(fieldHints).toMatchObject({ username: 'ann', url: 'https://db.example.com', password: '••••tery', apiKey: '••••ijkl', pin: '••••' });
  });

  it('shows nothing of short values and only the last 4 of long ones', () => {
    expect(maskValue('short')).toBe('••••');
    expect(maskValue('elevenchars')).toBe('••••');
    expect(maskValue('twelve-chars')).toBe('••••hars');
    expect(maskValue('')).toBe('••••');
  });

  it('lets neverMask override defaults and alwaysMask override everything', () => {
    const policy = validateMaskingPolicy({ alwaysMask: ['url', 'token'], neverMask: ['pin', 'token'] });
    expect(isMasked('url', policy)).toBe(true);
    expect(isMasked('token', policy)).toBe(true);
    expect(isMasked('pin', policy)).toBe(false);
    expect(isMasked('PIN', policy)).toBe(false);
    expect(isMasked('email', policy)).toBe(false);
  });

  it('rejects malformed policies with typed errors', () => {
    for (const bad of [null, [], 'x', { alwaysMask: 'password' }, { alwaysMask: [1] }, { neverMask: [''] }, { mask: [] }]) {
      expect(() => validateMaskingPolicy(bad), JSON.stringify(bad)).toThrow(VaultError);
    }
    expect(validateMaskingPolicy({})).toEqual({ alwaysMask: [], neverMask: [] });
  });
});
