import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { VaultError } from './errors.js';
import { KEY_BYTES, type Keyring } from './keyring.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 1;

/** Where a ciphertext belongs; bound as associated data so it cannot be moved elsewhere. */
export interface ItemRef { vaultId: string; itemId: string }

/** A data key wrapped by a master key version. JSON-safe (store as jsonb). */
export interface WrappedKey { v: 1; keyVersion: number; nonce: string; ct: string }
/** One sealed field value. JSON-safe. */
export interface SealedField { v: 1; nonce: string; ct: string }

/** An item's encrypted form: its wrapped data key and sealed fields. */
export interface SealedItem { dataKey: WrappedKey; fields: Record<string, SealedField> }

// Length-prefixed parts: "a|b" and "a|" + "|b" can never collide.
function associatedData(...parts: string[]): Buffer {
  return Buffer.concat(parts.map((p) => {
    // Stryker disable next-line StringLiteral: Buffer.from(s, '') decodes as UTF-8 too (Node's default encoding)
    const bytes = Buffer.from(p, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    return Buffer.concat([len, bytes]);
  }));
}

function seal(key: Buffer, plaintext: Buffer, ad: Buffer): { nonce: string; ct: string } {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(ad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { nonce: nonce.toString('base64'), ct: ct.toString('base64') };
}

/** A base64 part of a sealed value; a missing part decodes to no bytes and then fails the length check. */
function decodePart(part: string | undefined): Buffer {
  // Stryker disable next-line StringLiteral: any fallback text decodes to too few bytes ("Stryker was here!" to 10), malformed either way
  const text = part ?? '';
  return Buffer.from(text, 'base64');
}

function open(key: Buffer, sealed: { nonce?: string; ct?: string }, ad: Buffer, what: string): Buffer {
  const nonce = decodePart(sealed.nonce);
  const ct = decodePart(sealed.ct);
  if (nonce.length !== NONCE_BYTES || ct.length < TAG_BYTES) throw new VaultError('invalid_ciphertext', `${what} is malformed`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(ad);
    decipher.setAuthTag(ct.subarray(ct.length - TAG_BYTES));
    return Buffer.concat([decipher.update(ct.subarray(0, ct.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // Wrong key, tampered bytes, or moved to another item/field: all look the same to GCM.
    throw new VaultError('decrypt_failed', `${what} failed authentication (wrong key, tampered, or not this item's)`);
  }
}

/** Field keys are user data: `__proto__` must become an own property, not a prototype swap. */
function setOwn<T>(target: Record<string, T>, key: string, value: T) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function checkFormat(obj: { v?: unknown } | undefined, what: string) {
  if (!obj || obj.v !== FORMAT) throw new VaultError('invalid_ciphertext', `${what} has an unknown format`);
}

/** Wraps a data key under the keyring's newest master key. */
export function wrapDataKey(keyring: Keyring, ref: ItemRef, dataKey: Buffer): WrappedKey {
  const version = keyring.currentVersion;
  const sealed = seal(keyring.key(version), dataKey, associatedData('sesame-dek', String(version), ref.vaultId, ref.itemId));
  return { v: FORMAT, keyVersion: version, ...sealed };
}

export function unwrapDataKey(keyring: Keyring, ref: ItemRef, wrapped: WrappedKey): Buffer {
  checkFormat(wrapped, 'the wrapped data key');
  const key = open(keyring.key(wrapped.keyVersion), wrapped, associatedData('sesame-dek', String(wrapped.keyVersion), ref.vaultId, ref.itemId), 'the wrapped data key');
  if (key.length !== KEY_BYTES) throw new VaultError('invalid_ciphertext', 'the wrapped data key has the wrong length');
  return key;
}

/** Seals every field of a new item under a fresh data key. */
export function sealItem(keyring: Keyring, ref: ItemRef, fields: Record<string, string>): SealedItem {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    const sealedFields: Record<string, SealedField> = {};
    for (const [field, value] of Object.entries(fields)) setOwn(sealedFields, field, sealFieldWith(dataKey, ref, field, value));
    return { dataKey: wrapDataKey(keyring, ref, dataKey), fields: sealedFields };
  } finally {
    dataKey.fill(0);
  }
}

/** Adds or replaces fields of an existing item (its data key is reused). */
export function sealFields(keyring: Keyring, ref: ItemRef, item: SealedItem, fields: Record<string, string>): SealedItem {
  const dataKey = unwrapDataKey(keyring, ref, item.dataKey);
  try {
    const next = { ...item.fields };
    for (const [field, value] of Object.entries(fields)) setOwn(next, field, sealFieldWith(dataKey, ref, field, value));
    return { dataKey: item.dataKey, fields: next };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens the named fields (all when omitted). Unknown field names are simply absent. */
export function openItem(keyring: Keyring, ref: ItemRef, item: SealedItem, only?: string[]): Record<string, string> {
  const dataKey = unwrapDataKey(keyring, ref, item.dataKey);
  try {
    const out: Record<string, string> = {};
    for (const field of only ?? Object.keys(item.fields)) {
      if (!Object.hasOwn(item.fields, field)) continue;
      setOwn(out, field, openFieldWith(dataKey, ref, field, item.fields[field]));
    }
    return out;
  } finally {
    dataKey.fill(0);
  }
}

/** Moves the item's data key to the newest master key; field ciphertexts are untouched. */
export function rewrapItem(keyring: Keyring, ref: ItemRef, item: SealedItem): SealedItem {
  if (item.dataKey.keyVersion === keyring.currentVersion) return item;
  const dataKey = unwrapDataKey(keyring, ref, item.dataKey);
  try {
    return { dataKey: wrapDataKey(keyring, ref, dataKey), fields: item.fields };
  } finally {
    dataKey.fill(0);
  }
}

export function needsRewrap(keyring: Keyring, item: SealedItem): boolean {
  return item.dataKey.keyVersion !== keyring.currentVersion;
}

function sealFieldWith(dataKey: Buffer, ref: ItemRef, field: string, value: string): SealedField {
  if (typeof value !== 'string') throw new VaultError('invalid_ciphertext', `field "${field}" must be a string`);
  // Stryker disable next-line StringLiteral: Buffer.from(s, '') encodes as UTF-8 too (Node's default encoding)
  const plaintext = Buffer.from(value, 'utf8');
  return { v: FORMAT, ...seal(dataKey, plaintext, associatedData('sesame-field', ref.vaultId, ref.itemId, field)) };
}

function openFieldWith(dataKey: Buffer, ref: ItemRef, field: string, sealed: SealedField): string {
  checkFormat(sealed, `field "${field}"`);
  return open(dataKey, sealed, associatedData('sesame-field', ref.vaultId, ref.itemId, field), `field "${field}"`).toString('utf8');
}
