import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateMasterKey, Keyring, needsRewrap, openItem, rewrapItem, sealFields, sealItem, VaultError, type SealedItem } from '../src/index.js';

const keyring = new Keyring({ 1: generateMasterKey() });
const ref = { vaultId: 'vault_1', itemId: 'item_1' };

function flipByte(b64: string, index: number): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[index] = bytes[index] ^ 0x01;
  return bytes.toString('base64');
}

function expectCode(fn: () => unknown, code: string) {
  try { fn(); } catch (err) { expect(err).toBeInstanceOf(VaultError); expect((err as VaultError).code).toBe(code); return; }
  throw new Error('expected a VaultError');
}

describe('envelope encryption', () => {
  it('round-trips arbitrary field values (property)', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 300 }), { maxKeys: 6 }), (fields) => {
      const sealed = sealItem(keyring, ref, fields);
      expect(openItem(keyring, ref, sealed)).toEqual(fields);
    }), { numRuns: 200 });
  });

  it('uses a fresh data key and nonce per item: equal plaintexts give different ciphertexts', () => {
    const a = sealItem(keyring, ref, { password: 'same' });
    const b = sealItem(keyring, ref, { password: 'same' });
    expect(a.fields.password.ct).not.toBe(b.fields.password.ct);
    expect(a.dataKey.ct).not.toBe(b.dataKey.ct);
  });

  it('detects every flipped byte of nonce or ciphertext, in fields and in the wrapped key', () => {
    const sealed = sealItem(keyring, ref, { password: 'correct horse battery staple' });
    const field = sealed.fields.password;
    for (const part of ['nonce', 'ct'] as const) {
      const length = Buffer.from(field[part], 'base64').length;
      for (let i = 0; i < length; i++) {
        const tampered: SealedItem = { ...sealed, fields: { password: { ...field, [part]: flipByte(field[part], i) } } };
        expectCode(() => openItem(keyring, ref, tampered), 'decrypt_failed');
      }
      const keyLength = Buffer.from(sealed.dataKey[part], 'base64').length;
      for (let i = 0; i < keyLength; i++) {
        expectCode(() => openItem(keyring, ref, { ...sealed, dataKey: { ...sealed.dataKey, [part]: flipByte(sealed.dataKey[part], i) } }), 'decrypt_failed');
      }
    }
  });

  it('binds ciphertexts to their vault, item and field', () => {
    const sealed = sealItem(keyring, ref, { password: 'p4ss', username: 'ann' });
    expectCode(() => openItem(keyring, { ...ref, itemId: 'item_2' }, sealed), 'decrypt_failed');
    expectCode(() => openItem(keyring, { ...ref, vaultId: 'vault_2' }, sealed), 'decrypt_failed');
    const swapped = { ...sealed, fields: { password: sealed.fields.username, username: sealed.fields.password } };
    expectCode(() => openItem(keyring, ref, swapped), 'decrypt_failed');
    // A field moved from another item (with that item's key) fails too.
    const other = sealItem(keyring, { ...ref, itemId: 'item_2' }, { password: 'other' });
    expectCode(() => openItem(keyring, ref, { ...sealed, fields: { password: other.fields.password } }), 'decrypt_failed');
  });

  it('fails typed on a wrong master key, an unknown version and malformed input', () => {
    const sealed = sealItem(keyring, ref, { token: 't' });
    expectCode(() => openItem(new Keyring({ 1: generateMasterKey() }), ref, sealed), 'decrypt_failed');
    expectCode(() => openItem(new Keyring({ 2: generateMasterKey() }), ref, sealed), 'unknown_key_version');
    expectCode(() => openItem(keyring, ref, { ...sealed, fields: { token: { v: 1, nonce: 'AAAA', ct: '' } } }), 'invalid_ciphertext');
    expectCode(() => openItem(keyring, ref, { ...sealed, fields: { token: { v: 9 as 1, nonce: sealed.fields.token.nonce, ct: sealed.fields.token.ct } } }), 'invalid_ciphertext');
    expectCode(() => new Keyring({ 1: Buffer.alloc(16).toString('base64') }), 'invalid_key');
    expectCode(() => Keyring.parse('v1:nope!'), 'invalid_key');
  });

  it('opens only the requested fields and adds fields with the same data key', () => {
    const sealed = sealItem(keyring, ref, { username: 'ann', password: 'p' });
    expect(openItem(keyring, ref, sealed, ['password'])).toEqual({ password: 'p' });
    const updated = sealFields(keyring, ref, sealed, { totp: 'JBSWY3DPEHPK3PXP' });
    expect(updated.dataKey).toEqual(sealed.dataKey);
    expect(openItem(keyring, ref, updated)).toEqual({ username: 'ann', password: 'p', totp: 'JBSWY3DPEHPK3PXP' });
  });
});

describe('key rotation', () => {
  it('reads old versions, writes the newest, and rewraps without touching field ciphertexts', () => {
    const v1 = generateMasterKey();
    const old = new Keyring({ 1: v1 });
    const sealed = sealItem(old, ref, { password: 'rotate me' });
    const rotated = Keyring.parse(`v1:${v1},v2:${generateMasterKey()}`);
    expect(rotated.currentVersion).toBe(2);
    expect(openItem(rotated, ref, sealed)).toEqual({ password: 'rotate me' });
    expect(needsRewrap(rotated, sealed)).toBe(true);
    const rewrapped = rewrapItem(rotated, ref, sealed);
    expect(rewrapped.dataKey.keyVersion).toBe(2);
    expect(rewrapped.fields).toEqual(sealed.fields);
    expect(needsRewrap(rotated, rewrapped)).toBe(false);
    expect(sealItem(rotated, ref, { a: 'b' }).dataKey.keyVersion).toBe(2);
    // Once v1 is retired, only rewrapped items open.
    const retired = new Keyring({ 2: (rotated as unknown as { keys: Map<number, Buffer> }).keys.get(2)!.toString('base64') });
    expect(openItem(retired, ref, rewrapped)).toEqual({ password: 'rotate me' });
    expectCode(() => openItem(retired, ref, sealed), 'unknown_key_version');
  });
});

describe('no secrets in errors', () => {
  it('error messages never contain plaintext or key material', () => {
    const master = generateMasterKey();
    const ring = new Keyring({ 1: master });
    const plaintext = 'super-secret-plaintext-value';
    const sealed = sealItem(ring, ref, { password: plaintext });
    const messages: string[] = [];
    const attempts = [
      () => openItem(new Keyring({ 1: generateMasterKey() }), ref, sealed),
      () => openItem(ring, { ...ref, itemId: 'x' }, sealed),
      () => openItem(ring, ref, { ...sealed, fields: { password: { ...sealed.fields.password, ct: flipByte(sealed.fields.password.ct, 0) } } }),
      () => new Keyring({ 1: master.slice(0, 20) }),
    ];
    for (const attempt of attempts) { try { attempt(); } catch (err) { messages.push((err as Error).message, String((err as Error).stack)); } }
    expect(messages.length).toBe(8);
    for (const m of messages) {
      expect(m).not.toContain(plaintext);
      expect(m).not.toContain(master);
      expect(m).not.toContain(sealed.fields.password.ct);
    }
  });
});
