import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { decodeKey } from '../keys.js';

/** One agent this device registered. */
export interface DeviceAgent {
  id: string;
  handle: string;
  workspaceId: string;
  brokerUrl: string;
}

export interface CliConfig {
  /** The broker `login --broker-url` saved; every later command reuses it. */
  brokerUrl?: string;
  activeAgent?: string;
  agents: DeviceAgent[];
}

export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface DeviceKey { publicKey: string; privateKey: string }

/**
 * The CLI's state on this device, under `$XDG_CONFIG_HOME/sesame/` (default `~/.config/sesame/`):
 * `device-key.json` (the Ed25519 device key), `config.json` (broker URL, agents, the active one)
 * and `tokens.json` (access and refresh tokens per agent). The folder is `0700` and every file
 * `0600`: the device key is the agent's identity.
 */
export class CliStore {
  readonly dir: string;

  constructor(env: NodeJS.ProcessEnv) {
    const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
    this.dir = join(base, 'sesame');
  }

  readDeviceKey(): DeviceKey | undefined { return this.read('device-key.json') as DeviceKey | undefined; }
  writeDeviceKey(key: DeviceKey): void { this.write('device-key.json', key); }

  readConfig(): CliConfig { return (this.read('config.json') as CliConfig | undefined) ?? { agents: [] }; }
  writeConfig(config: CliConfig): void { this.write('config.json', config); }

  readTokens(agentId: string): StoredTokens | undefined { return this.allTokens()[agentId]; }
  writeTokens(agentId: string, tokens: StoredTokens | undefined): void {
    const others = Object.entries(this.allTokens()).filter(([id]) => id !== agentId);
    this.write('tokens.json', Object.fromEntries(tokens ? [...others, [agentId, tokens]] : others));
  }

  private allTokens(): Partial<Record<string, StoredTokens>> {
    return (this.read('tokens.json') as Record<string, StoredTokens> | undefined) ?? {};
  }

  private read(name: string): unknown {
    const path = join(this.dir, name);
    if (!existsSync(path)) return undefined;
    return JSON.parse(readFileSync(path, 'utf8'));
  }

  /** Written to a temporary file created `0600`, then renamed: never readable by others, never half written. */
  private write(name: string, value: unknown): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, name);
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  }
}

/** The device's fingerprint: SHA-256 of its public key, hex, first 32 characters. */
export function fingerprint(publicKey: string): string {
  return createHash('sha256').update(decodeKey(publicKey)).digest('hex').slice(0, 32);
}
