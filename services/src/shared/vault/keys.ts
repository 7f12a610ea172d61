import { generateMasterKey, Keyring } from '@sesamespace/vault';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dataPaths, type Config } from '../config.js';
import { SesameError } from '../errors.js';

/**
 * The vault's master keys. `SESAME_VAULT_KEY` is one base64 32-byte key (version 1), or during a
 * rotation a keyring `v1:<base64>,v2:<base64>` (the newest version wraps, every listed one
 * unwraps). When it is unset on the embedded default a key is generated once into
 * `<SESAME_DATA_DIR>/vault.key` (mode 0600), never into the database: a copy of the database
 * alone opens nothing. On a shared database (DATABASE_URL) the key must be configured, as every
 * replica must hold it; the vault endpoints answer 503 until it is.
 */
export function parseMasterKeys(text: string): Keyring {
  const trimmed = text.trim();
  return trimmed.includes(':') ? Keyring.parse(trimmed) : new Keyring({ 1: trimmed });
}

/** The keyring as the key file and SESAME_VAULT_KEY spell it: `v1:<base64>,v2:<base64>`. */
export function formatMasterKeys(keys: Record<number, string>): string {
  return Object.entries(keys).sort(([a], [b]) => Number(a) - Number(b)).map(([v, key]) => `v${v}:${key}`).join(',');
}

/** Reads the generated key file, creating it (owner-only, never overwriting) when missing. */
function readOrCreateKeyFile(path: string): string {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // `wx`: never overwrite a key another start wrote meanwhile.
    try { writeFileSync(path, `v1:${generateMasterKey()}\n`, { mode: 0o600, flag: 'wx' }); } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  // Tighten a file someone copied in with looser permissions.
  chmodSync(path, 0o600);
  return readFileSync(path, 'utf8');
}

/** Replaces the key file atomically (write a sibling, rename over): a crash leaves the old or the new file, never half of one. */
export function writeKeyFile(path: string, keys: string): void {
  const temp = `${path}.${String(process.pid)}.tmp`;
  writeFileSync(temp, `${keys}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** `<SESAME_DATA_DIR>/vault.key`: the generated master keys of the embedded mode. */
export function vaultKeyFile(config: Pick<Config, 'SESAME_DATA_DIR' | 'SESAME_BLOB_DIR'>, env: Record<string, string | undefined> = process.env): string {
  return join(dataPaths(config, env).dataDir, 'vault.key');
}

export type MasterKeySource = { kind: 'env' } | { kind: 'file'; path: string };

/** Where this configuration's master keys come from, or null when the vault is not configured. */
export function masterKeySource(config: Config, env: Record<string, string | undefined> = process.env): MasterKeySource | null {
  if (config.SESAME_VAULT_KEY) return { kind: 'env' };
  if (config.DATABASE_URL) return null;
  return { kind: 'file', path: vaultKeyFile(config, env) };
}

/** The master keys of one configuration, loaded on first use and re-read from the key file after a rotation. */
export class VaultKeys {
  private current: Keyring | undefined;

  constructor(private readonly config: Config, private readonly env: Record<string, string | undefined> = process.env) {}

  keyring(): Keyring {
    this.current ??= this.load();
    return this.current;
  }

  /**
   * Re-reads the key file (a running server meets an item rewrapped by `vault rotate-key` under
   * a version it has not loaded). True when the keyring changed.
   */
  reload(): boolean {
    const source = masterKeySource(this.config, this.env);
    if (source?.kind !== 'file') return false;
    const before = this.current?.versions().join(',');
    this.current = this.load();
    return this.current.versions().join(',') !== before;
  }

  private load(): Keyring {
    const source = masterKeySource(this.config, this.env);
    if (!source) {
      throw new SesameError('service-unavailable', 'The vault is not configured: set SESAME_VAULT_KEY (a base64 32-byte key) on every process sharing DATABASE_URL');
    }
    const text = source.kind === 'env' ? this.config.SESAME_VAULT_KEY ?? '' : readOrCreateKeyFile(source.path);
    try {
      return parseMasterKeys(text);
    } catch {
      // The parser's message names no key material, but the source is what the operator needs.
      throw new SesameError('service-unavailable', `The vault master key in ${source.kind === 'env' ? 'SESAME_VAULT_KEY' : source.path} is malformed`);
    }
  }
}

const loaded = new WeakMap<Config, VaultKeys>();

/** The master keys for `config` (one loader per configuration object, shared by every route). */
export function vaultKeys(config: Config): VaultKeys {
  let keys = loaded.get(config);
  if (!keys) {
    keys = new VaultKeys(config);
    loaded.set(config, keys);
  }
  return keys;
}
