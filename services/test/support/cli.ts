import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { onTestFinished } from 'vitest';

/** The built `sesame` CLI of @sesamespace/sdk (its package.json `bin`). */
const sdkPackage = createRequire(import.meta.url).resolve('@sesamespace/sdk/package.json');
const CLI = join(dirname(sdkPackage), 'dist', 'cli.js');

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Runs `sesame …` as a child process in its own temporary HOME (no XDG_CONFIG_HOME), removed
 * when the calling test ends (so call it inside a test).
 */
export function cliHome() {
  const home = mkdtempSync(join(tmpdir(), 'sesame-cli-'));
  onTestFinished(() => { rmSync(home, { recursive: true, force: true }); });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home };
  return {
    home,
    run(args: string[], options: { onStderr?: (chunk: string) => void; env?: Record<string, string>; stdin?: string } = {}): Promise<CliResult> {
      return new Promise((resolve) => {
        const child = execFile(process.execPath, [CLI, ...args], { env: { ...env, ...options.env }, timeout: 120_000 }, (error, stdout, stderr) => {
          const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
          resolve({ code, stdout, stderr });
        });
        // A command that exits without reading its input closes the pipe first: the write's
        // EPIPE is no failure of the test (the exit code and output say what happened).
        child.stdin?.on('error', () => undefined);
        child.stdin?.end(options.stdin ?? '');
        if (options.onStderr) child.stderr?.on('data', (chunk: Buffer | string) => { options.onStderr?.(chunk.toString()); });
      });
    },
  };
}
