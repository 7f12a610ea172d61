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

  readDeviceKey(): DeviceKey | undefined { return this.read<DeviceKey>('device-key.json'); }
  writeDeviceKey(key: DeviceKey): void { this.write('device-key.json', key); }

  readConfig(): CliConfig { return this.read<CliConfig>('config.json') ?? { agents: [] }; }
  writeConfig(config: CliConfig): void { this.write('config.json', config); }

  readTokens(agentId: string): StoredTokens | undefined { return this.read<Record<string, StoredTokens>>('tokens.json')?.[agentId]; }
  writeTokens(agentId: string, tokens: StoredTokens | undefined): void {
    const all = this.read<Record<string, StoredTokens>>('tokens.json') ?? {};
    if (tokens) all[agentId] = tokens;
    else delete all[agentId];
    this.write('tokens.json', all);
  }

  private read<T>(name: string): T | undefined {
    const path = join(this.dir, name);
    if (!existsSync(path)) return undefined;
    return JSON.parse(readFileSync(path, 'utf8')) as T;
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
