import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const servicesDir = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnOptions {
  /** `source` (default): src/cli.ts through tsx, no build needed. `built`: bin/sesame-server.mjs on dist/. */
  entry?: 'source' | 'built';
  cwd?: string;
}

/** Runs `sesame-server <command>` as a real child process. */
export function spawnServer(command: string, env: Record<string, string>, options: SpawnOptions = {}): ServerProcess {
  const args = options.entry === 'built'
    ? [join(servicesDir, 'bin/sesame-server.mjs'), command]
    : ['--conditions=source', '--import', 'tsx', 'src/cli.ts', command];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? servicesDir,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code); }));
  return {
    child, exited, stdout: () => out, stderr: () => err,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          const match = out.match(pattern) ?? err.match(pattern);
          if (match) { resolve(match); return; }
          if (child.exitCode !== null) { reject(new Error(`process exited (${child.exitCode}) before ${pattern}: ${err || out}`)); return; }
          if (Date.now() - started > timeoutMs) { reject(new Error(`timed out waiting for ${pattern}: ${err || out}`)); return; }
          setTimeout(check, 50);
        };
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
