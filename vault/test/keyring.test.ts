import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateMasterKey, KEY_BYTES, Keyring, VaultError } from '../src/index.js';

function failure(fn: () => unknown): VaultError {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); return err as VaultError; }
  throw new Error('expected a VaultError');
}

const keyOf = (byte: number) => Buffer.alloc(KEY_BYTES, byte);
const b64 = (byte: number) => keyOf(byte).toString('base64');

describe('Keyring', () => {
  it('accepts base64 strings and raw bytes alike and hands back a copy of the bytes', () => {
    const raw = new Uint8Array(keyOf(7));
    const ring = new Keyring({ 1: b64(1), 2: raw });
    expect(ring.key(1)).toEqual(keyOf(1));
    expect(ring.key(2)).toEqual(keyOf(7));
    raw.fill(0);
    expect(ring.key(2)).toEqual(keyOf(7));
  });

  it('writes with the newest version, whatever the order the versions come in', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 10_000 }), { minLength: 1, maxLength: 8 }), (versions) => {
      const ring = new Keyring(Object.fromEntries(versions.map((v) => [v, b64(v % 256)])));
      expect(ring.currentVersion).toBe(Math.max(...versions));
      expect(ring.versions()).toEqual([...versions].sort((a, b) => a - b));
      for (const v of versions) expect(ring.key(v)).toEqual(keyOf(v % 256));
    }));
  });

  it('lists versions numerically even when they are not array indices (insertion order differs)', () => {
    // Object keys ≥ 2^32 - 1 keep insertion order, so only the explicit sort orders these.
    const ring = new Keyring({ 9_999_999_999: b64(1), 5_000_000_000: b64(2), 10: b64(3) });
    expect(ring.versions()).toEqual([10, 5_000_000_000, 9_999_999_999]);
    expect(ring.currentVersion).toBe(9_999_999_999);
  });

  it('rejects versions that are not positive integers, naming the version', () => {
    for (const version of ['0', '-1', '1.5', 'x']) {
      const err = failure(() => new Keyring({ [version]: b64(1) }));
      expect(err.code).toBe('invalid_key');
      expect(err.message).toBe(`key version must be a positive integer, got "${version}"`);
    }
    expect(new Keyring({ 1: b64(1) }).versions()).toEqual([1]);
  });

  it('rejects keys that are not exactly 32 bytes, saying which and how long', () => {
    for (const length of [0, 16, 31, 33, 64]) {
      for (const key of [Buffer.alloc(length, 1).toString('base64'), new Uint8Array(length)]) {
        const err = failure(() => new Keyring({ 3: key }));
        expect(err.code).toBe('invalid_key');
        expect(err.message).toBe(`master key v3 must be 32 bytes (base64), got ${length}`);
      }
    }
  });

  it('needs at least one key', () => {
    const err = failure(() => new Keyring({}));
    expect(err.code).toBe('invalid_key');
    expect(err.message).toBe('a keyring needs at least one master key');
  });

  it('refuses an unknown version with a typed error', () => {
    const ring = new Keyring({ 1: b64(1), 3: b64(3) });
    for (const v of [0, 2, 4]) {
      const err = failure(() => ring.key(v));
      expect(err.code).toBe('unknown_key_version');
      expect(err.message).toBe(`no master key with version ${v} in the keyring`);
    }
  });
});

describe('Keyring.parse (SESAME_VAULT_KEYS)', () => {
  it('parses any set of versions in any order, with spaces and empty parts ignored', () => {
    const entry = fc.record({ version: fc.integer({ min: 1, max: 100_000 }), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 6, selector: (e) => e.version }), fc.constantFrom(',', ', ', ' ,', ',,'), (entries, sep) => {
      const ring = Keyring.parse(` ${entries.map((e) => `v${e.version}:${b64(e.byte)}`).join(sep)} `);
      expect(ring.versions()).toEqual(entries.map((e) => e.version).sort((a, b) => a - b));
      expect(ring.currentVersion).toBe(Math.max(...entries.map((e) => e.version)));
      for (const e of entries) expect(ring.key(e.version)).toEqual(keyOf(e.byte));
    }));
  });

  it('accepts every base64 character, padding included', () => {
    const key = Buffer.from(Array.from({ length: KEY_BYTES }, (_, i) => (i * 37 + 251) & 0xff));
    const encoded = key.toString('base64');
    expect(encoded).toMatch(/[+/]/);
    expect(encoded).toMatch(/=$/);
    expect(Keyring.parse(`v12:${encoded}`).key(12)).toEqual(key);
  });

  it('rejects anything that is not v<number>:<base64>, without echoing the input', () => {
    const key = b64(9);
    for (const config of ['', ' , ', key, `1:${key}`, `v:${key}`, `x${key}`, `vv1:${key}`, `v1:${key}!`, `v1:${key} extra`, `v1 ${key}`, `v1:`, `xv1:${key}`, `v1:${key}x!`, `V1:${key}`, `v1a:${key}`]) {
      let err: VaultError;
      if (config.trim().replace(/,/g, '').trim() === '') {
        err = failure(() => Keyring.parse(config));
        expect(err.message).toBe('a keyring needs at least one master key');
        continue;
      }
      err = failure(() => Keyring.parse(config));
      expect(err.code, config).toBe('invalid_key');
      expect(err.message, config).toBe('vault keys must look like "v1:<base64 32 bytes>,v2:<base64 32 bytes>"');
      expect(err.message).not.toContain(key);
    }
  });

  it('rejects a version given twice, even spelled differently', () => {
    for (const config of [`v1:${b64(1)},v1:${b64(2)}`, `v2:${b64(1)},v02:${b64(1)}`, `v7:${b64(1)},v3:${b64(3)},v7:${b64(1)}`]) {
      const err = failure(() => Keyring.parse(config));
      expect(err.code).toBe('invalid_key');
      expect(err.message).toMatch(/^key version v0?\d appears twice$/);
    }
    expect(failure(() => Keyring.parse(`v1:${b64(1)},v1:${b64(2)}`)).message).toBe('key version v1 appears twice');
  });

  it('passes key validation on to the constructor (short keys fail)', () => {
    const err = failure(() => Keyring.parse(`v1:${b64(1)},v2:${Buffer.alloc(16).toString('base64')}`));
    expect(err.message).toBe('master key v2 must be 32 bytes (base64), got 16');
  });
});

describe('generateMasterKey', () => {
  it('returns fresh random 32-byte keys in base64 that a keyring accepts', () => {
    const keys = Array.from({ length: 20 }, generateMasterKey);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) {
      expect(Buffer.from(key, 'base64')).toHaveLength(KEY_BYTES);
      expect(Buffer.from(key, 'base64').toString('base64')).toBe(key);
      expect(new Keyring({ 1: key }).key(1)).toEqual(Buffer.from(key, 'base64'));
    }
  });
});
