import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KEY_BYTES, Keyring, openItem, rewrapItem, sealFields, sealItem, unwrapDataKey, VaultError, wrapDataKey,
  type ItemRef, type SealedField, type SealedItem, type WrappedKey,
} from '../src/index.js';

const ring = new Keyring({ 1: Buffer.alloc(KEY_BYTES, 1), 2: Buffer.alloc(KEY_BYTES, 2) });
const ref: ItemRef = { vaultId: 'vault_1', itemId: 'item_1' };

function failure(fn: () => unknown): VaultError {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); return err as VaultError; }
  throw new Error('expected a VaultError');
}

const b64 = (length: number) => Buffer.alloc(length, 5).toString('base64');
const fieldName = fc.string({ minLength: 1, maxLength: 12 });
const anyRef = fc.record({ vaultId: fc.string({ maxLength: 12 }), itemId: fc.string({ maxLength: 12 }) });

describe('envelope encryption (properties)', () => {
  it('round-trips any value under any vault, item and field name, and only there', () => {
    fc.assert(fc.property(anyRef, anyRef, fieldName, fc.string({ unit: 'binary', maxLength: 200 }), (at, elsewhere, field, value) => {
      const sealed = sealItem(ring, at, { [field]: value });
      expect(openItem(ring, at, sealed)).toEqual({ [field]: value });
      // Length-prefixed associated data: ("ab","c") and ("a","bc") are different places.
      if (at.vaultId !== elsewhere.vaultId || at.itemId !== elsewhere.itemId) {
        expect(failure(() => openItem(ring, elsewhere, sealed)).code).toBe('decrypt_failed');
      }
    }), { numRuns: 150 });
  });

  it('tells apart places whose parts only concatenate alike', () => {
    const sealed = sealItem(ring, { vaultId: 'ab', itemId: 'c' }, { f: 'x' });
    expect(failure(() => openItem(ring, { vaultId: 'a', itemId: 'bc' }, sealed)).code).toBe('decrypt_failed');
  });

  it('detects any change to any byte of a sealed field or wrapped key', () => {
    const sealed = sealItem(ring, ref, { password: 'correct horse' });
    const target = fc.record({ where: fc.constantFrom('field', 'key'), part: fc.constantFrom('nonce', 'ct'), index: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) });
    fc.assert(fc.property(target, ({ where, part, index, xor }) => {
      const original = where === 'field' ? sealed.fields.password : sealed.dataKey;
      const bytes = Buffer.from(original[part], 'base64');
      bytes[index % bytes.length] ^= xor;
      const changed = { ...original, [part]: bytes.toString('base64') };
      const tampered: SealedItem = where === 'field'
        ? { ...sealed, fields: { password: changed } }
        : { ...sealed, dataKey: changed as WrappedKey };
      const err = failure(() => openItem(ring, ref, tampered));
      expect(err.code).toBe('decrypt_failed');
      expect(err.message).toBe(where === 'field'
        ? 'field "password" failed authentication (wrong key, tampered, or not this item\'s)'
        : 'the wrapped data key failed authentication (wrong key, tampered, or not this item\'s)');
    }), { numRuns: 200 });
  });

  it('binds the wrapped key to its key version', () => {
    // Same bytes under two versions: only the version in the associated data tells them apart.
    const twin = new Keyring({ 1: Buffer.alloc(KEY_BYTES, 9), 2: Buffer.alloc(KEY_BYTES, 9) });
    const sealed = sealItem(twin, ref, { a: 'b' });
    expect(sealed.dataKey.keyVersion).toBe(2);
    expect(failure(() => openItem(twin, ref, { ...sealed, dataKey: { ...sealed.dataKey, keyVersion: 1 } })).code).toBe('decrypt_failed');
  });
});

describe('envelope encryption: malformed input', () => {
  it('rejects a nonce that is not 12 bytes or a ciphertext shorter than its tag, before decrypting', () => {
    const sealed = sealItem(ring, ref, { token: 'value' });
    const token = sealed.fields.token;
    const malformed: Array<Partial<SealedField>> = [
      { nonce: b64(11) }, { nonce: b64(13) }, { nonce: b64(16) }, { nonce: '' }, { nonce: undefined },
      { ct: b64(15) }, { ct: '' }, { ct: undefined }, { nonce: b64(16), ct: b64(15) },
    ];
    for (const change of malformed) {
      const err = failure(() => openItem(ring, ref, { ...sealed, fields: { token: { ...token, ...change } } }));
      expect(err.code, JSON.stringify(change)).toBe('invalid_ciphertext');
      expect(err.message).toBe('field "token" is malformed');
    }
    const keyErr = failure(() => openItem(ring, ref, { ...sealed, dataKey: { ...sealed.dataKey, nonce: b64(16) } }));
    expect(keyErr).toMatchObject({ code: 'invalid_ciphertext', message: 'the wrapped data key is malformed' });
    // Exactly a tag's length is well-formed: the empty value.
    const empty = sealItem(ring, ref, { token: '' });
    expect(Buffer.from(empty.fields.token.ct, 'base64')).toHaveLength(16);
    expect(openItem(ring, ref, empty)).toEqual({ token: '' });
  });

  it('rejects unknown formats of fields and wrapped keys', () => {
    const sealed = sealItem(ring, ref, { token: 'value' });
    expect(failure(() => openItem(ring, ref, { ...sealed, fields: { token: { ...sealed.fields.token, v: 2 as 1 } } })))
      .toMatchObject({ code: 'invalid_ciphertext', message: 'field "token" has an unknown format' });
    expect(failure(() => openItem(ring, ref, { ...sealed, dataKey: { ...sealed.dataKey, v: 2 as 1 } })))
      .toMatchObject({ code: 'invalid_ciphertext', message: 'the wrapped data key has an unknown format' });
    expect(failure(() => unwrapDataKey(ring, ref, undefined as unknown as WrappedKey)))
      .toMatchObject({ code: 'invalid_ciphertext', message: 'the wrapped data key has an unknown format' });
  });

  it('rejects a wrapped data key of the wrong length', () => {
    for (const length of [0, 16, 31, 33]) {
      const wrapped = wrapDataKey(ring, ref, Buffer.alloc(length, 3));
      expect(failure(() => unwrapDataKey(ring, ref, wrapped)))
        .toMatchObject({ code: 'invalid_ciphertext', message: 'the wrapped data key has the wrong length' });
    }
    expect(unwrapDataKey(ring, ref, wrapDataKey(ring, ref, Buffer.alloc(KEY_BYTES, 3)))).toEqual(Buffer.alloc(KEY_BYTES, 3));
  });

  it('refuses field values that are not strings', () => {
    for (const value of [1, null, undefined, Buffer.from('x')]) {
      const fields = { pin: value } as unknown as Record<string, string>;
      expect(failure(() => sealItem(ring, ref, fields))).toMatchObject({ code: 'invalid_ciphertext', message: 'field "pin" must be a string' });
      const sealed = sealItem(ring, ref, { a: 'b' });
      expect(failure(() => sealFields(ring, ref, sealed, fields))).toMatchObject({ code: 'invalid_ciphertext', message: 'field "pin" must be a string' });
    }
  });
});

describe('envelope encryption: field names are data', () => {
  it('keeps __proto__ and other prototype names as ordinary own fields', () => {
    const fields = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}') as Record<string, string>;
    const sealed = sealItem(ring, ref, fields);
    expect(Object.keys(sealed.fields).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    const opened = openItem(ring, ref, sealed);
    expect(Object.getPrototypeOf(opened)).toBe(Object.prototype);
    expect(Object.keys(opened).sort()).toEqual(['__proto__', 'constructor', 'toString']);
    for (const record of [sealed.fields, opened, sealFields(ring, ref, sealed, { constructor: 'c2' }).fields]) {
      for (const key of Object.keys(record)) {
        expect(Object.getOwnPropertyDescriptor(record, key)).toMatchObject({ enumerable: true, writable: true, configurable: true });
      }
    }
    expect(openItem(ring, ref, sealFields(ring, ref, sealed, { constructor: 'c2' }))).toEqual(JSON.parse('{"__proto__":"p","constructor":"c2","toString":"t"}'));
  });

  it('treats names in `only` that the item lacks as absent, prototype names included', () => {
    const sealed = sealItem(ring, ref, { user: 'ann' });
    expect(openItem(ring, ref, sealed, ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'missing'])).toEqual({});
    expect(openItem(ring, ref, sealed, ['user', 'toString'])).toEqual({ user: 'ann' });
  });
});

describe('key rotation', () => {
  it('returns an item already on the newest version as it is', () => {
    const sealed = sealItem(ring, ref, { a: 'b' });
    expect(rewrapItem(ring, ref, sealed)).toBe(sealed);
    const old = sealItem(new Keyring({ 1: Buffer.alloc(KEY_BYTES, 1) }), ref, { a: 'b' });
    const moved = rewrapItem(ring, ref, old);
    expect(moved).not.toBe(old);
    expect(moved.dataKey.keyVersion).toBe(2);
    expect(openItem(ring, ref, moved)).toEqual({ a: 'b' });
  });
});
