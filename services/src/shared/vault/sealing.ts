import { openItem, rewrapItem, sealFields, sealItem, VaultError, type ItemRef, type SealedItem } from '@sesamespace/vault';
import { SesameError } from '../errors.js';
import type { VaultKeys } from './keys.js';

/**
 * Sealing and opening item fields under the vault's master keys. Every ciphertext binds the
 * vault, item and field ids as associated data (the `vault` package's envelope format), so a
 * value copied to another field, item or vault fails to open. Any failure — a wrong or unknown
 * master key, a flipped bit, a moved ciphertext — is one error and no field is returned: the
 * caller gets all the fields it asked for or none.
 */
export type { ItemRef, SealedItem };

/** What a client sees when a ciphertext does not open: no partial data, no key or ciphertext in the text. */
function failedClosed(err: VaultError): SesameError {
  const detail = err.code === 'unknown_key_version'
    ? 'The item is wrapped by a master key version this server does not hold; nothing was decrypted'
    : 'The item could not be decrypted (wrong master key or tampered ciphertext); nothing was decrypted';
  return new SesameError('internal-error', detail, { vaultError: err.code });
}

function guard<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof VaultError) throw failedClosed(err);
    throw err;
  }
}

/** Seals the fields of a new item under a fresh data key wrapped by the newest master key. */
export function sealNewItem(keys: VaultKeys, ref: ItemRef, fields: Record<string, string>): SealedItem {
  return guard(() => sealItem(keys.keyring(), ref, fields));
}

/** Adds or replaces fields (same data key) and drops `remove`; the data key must open first. */
export function updateSealedFields(keys: VaultKeys, ref: ItemRef, sealed: SealedItem, fields: Record<string, string>, remove: string[] = []): SealedItem {
  const next = guard(() => withReload(keys, () => sealFields(keys.keyring(), ref, sealed, fields)));
  const kept = Object.fromEntries(Object.entries(next.fields).filter(([name]) => !remove.includes(name) || Object.hasOwn(fields, name)));
  return { dataKey: next.dataKey, fields: kept };
}

/** Opens the named fields (all when omitted; unknown names are absent) or throws without returning any. */
export function openSealedFields(keys: VaultKeys, ref: ItemRef, sealed: SealedItem, only?: string[]): Record<string, string> {
  return guard(() => withReload(keys, () => openItem(keys.keyring(), ref, sealed, only)));
}

/** The item's data key rewrapped under the newest master key (unchanged when it already is). */
export function rewrapSealed(keys: VaultKeys, ref: ItemRef, sealed: SealedItem): SealedItem {
  return guard(() => withReload(keys, () => rewrapItem(keys.keyring(), ref, sealed)));
}

/** A key version this process has not loaded may have been added by a rotation: re-read the key file once. */
function withReload<T>(keys: VaultKeys, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof VaultError && err.code === 'unknown_key_version' && keys.reload()) return work();
    throw err;
  }
}
