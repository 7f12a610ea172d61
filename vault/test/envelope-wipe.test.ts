import { describe, expect, it, vi } from 'vitest';

// Every buffer handed to a cipher as a key or as plaintext (not the ciphertexts fed to a decipher),
// so the test can look at the data key after the vault is done with it.
const seen = vi.hoisted(() => [] as Buffer[]);

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  const track = <T extends { update: (data: Buffer) => Buffer }>(cipher: T): T => {
    const update = cipher.update.bind(cipher);
    cipher.update = (data: Buffer) => { seen.push(data); return update(data); };
    return cipher;
  };
  return {
    ...real,
    createCipheriv: (algorithm: string, key: Buffer, iv: Buffer) => { seen.push(key); return track(real.createCipheriv(algorithm, key, iv)); },
    createDecipheriv: (algorithm: string, key: Buffer, iv: Buffer) => { seen.push(key); return real.createDecipheriv(algorithm, key, iv); },
  };
});

const { KEY_BYTES, Keyring, openItem, rewrapItem, sealFields, sealItem } = await import('../src/index.js');

const ring = new Keyring({ 1: Buffer.alloc(KEY_BYTES, 1), 2: Buffer.alloc(KEY_BYTES, 2) });
const ref = { vaultId: 'v', itemId: 'i' };

/** Runs `operation` and returns the 32-byte buffers it gave a cipher other than the master keys: the data key. */
function dataKeysUsedBy(operation: () => unknown): Buffer[] {
  seen.length = 0;
  operation();
  const masters = ring.versions().map((v) => ring.key(v));
  return seen.filter((b) => b.length === KEY_BYTES && !masters.includes(b));
}

describe('data keys are wiped after use', () => {
  const old = sealItem(new Keyring({ 1: Buffer.alloc(KEY_BYTES, 1) }), ref, { user: 'ann' });
  const operations: Record<string, () => unknown> = {
    sealItem: () => sealItem(ring, ref, { user: 'ann' }),
    sealFields: () => sealFields(ring, ref, old, { pin: '1' }),
    openItem: () => openItem(ring, ref, old),
    rewrapItem: () => rewrapItem(ring, ref, old),
  };
  for (const [name, operation] of Object.entries(operations)) {
    it(`${name} zeroes the data key it used`, () => {
      const keys = dataKeysUsedBy(operation);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) expect(key.equals(Buffer.alloc(KEY_BYTES))).toBe(true);
    });
  }

  it('still opens what it sealed (the wipe happens after the key is no longer needed)', () => {
    const sealed = sealItem(ring, ref, { user: 'ann' });
    expect(openItem(ring, ref, rewrapItem(ring, ref, sealFields(ring, ref, sealed, { pin: '1' })))).toEqual({ user: 'ann', pin: '1' });
  });
});
