import { randomBytes } from 'node:crypto';
import { VaultError } from './errors.js';

export const KEY_BYTES = 32;

/**
 * Versioned master keys. New writes use the newest version; reads accept any known one, so a
 * new key can be added without downtime and items rewrapped at leisure.
 */
export class Keyring {
  private readonly keys: Map<number, Buffer>;
  readonly currentVersion: number;

  constructor(keys: Record<number, Uint8Array | string>) {
    this.keys = new Map();
    for (const [version, key] of Object.entries(keys)) {
      const v = Number(version);
      if (!Number.isInteger(v) || v < 1) throw new VaultError('invalid_key', `key version must be a positive integer, got "${version}"`);
      // Stryker disable next-line ConditionalExpression: Buffer.from(bytes, 'base64') ignores the encoding and copies the bytes, as Buffer.from(bytes) does
      const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
      if (bytes.length !== KEY_BYTES) throw new VaultError('invalid_key', `master key v${v} must be ${KEY_BYTES} bytes (base64), got ${bytes.length}`);
      this.keys.set(v, bytes);
    }
    if (this.keys.size === 0) throw new VaultError('invalid_key', 'a keyring needs at least one master key');
    this.currentVersion = Math.max(...this.keys.keys());
  }

  /** Parses `v1:BASE64,v2:BASE64` (the SESAME_VAULT_KEYS format). */
  static parse(config: string): Keyring {
    const entries: Record<number, string> = {};
    for (const part of config.split(',').map((p) => p.trim()).filter(Boolean)) {
      const match = /^v(\d+):([A-Za-z0-9+/=]+)$/.exec(part);
      if (!match) throw new VaultError('invalid_key', 'vault keys must look like "v1:<base64 32 bytes>,v2:<base64 32 bytes>"');
      if (entries[Number(match[1])]) throw new VaultError('invalid_key', `key version v${match[1]} appears twice`);
      entries[Number(match[1])] = match[2];
    }
    return new Keyring(entries);
  }

  key(version: number): Buffer {
    const key = this.keys.get(version);
    if (!key) throw new VaultError('unknown_key_version', `no master key with version ${version} in the keyring`);
    return key;
  }

  versions(): number[] { return [...this.keys.keys()].sort((a, b) => a - b); }
}

/** A fresh random 32-byte key, base64 — for a new master key or the audit key. */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}
