import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { spawnServer, type ServerProcess } from './support/process.js';

/**
 * The README's SDK example is what a newcomer pastes first, so it must run as shown: the block in
 * README.md is examples/hello.mts byte for byte, and that file runs against a real server, twice
 * (handles must not collide on a second run), printing the message one agent sent the other.
 * It imports `@sesamespace/sdk`, which resolves through the workspace to the built sdk/dist.
 */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

function readmeExample(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = readme.match(/^```ts\n([\s\S]*?)^```$/m);
  if (!block) throw new Error('README.md has no ```ts block');
  return block[1];
}

describe('the README example', () => {
  it('is examples/hello.mts, byte for byte', () => {
    expect(readmeExample()).toBe(readFileSync(join(repoRoot, 'examples/hello.mts'), 'utf8'));
  });

  describe('against a running server', () => {
    let server: ServerProcess;
    let dataDir: string;
    let env: Record<string, string>;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'sesame-readme-'));
      const adminKey = randomKey();
      server = spawnServer('start', { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: adminKey, PORT: '0', GATEWAY_PORT: '0' });
      const [, apiUrl] = await server.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
      const [, wsUrl] = await server.waitForOutput(/Gateway:\s+(ws:\/\/\S+)\/v1\/connect/);
      env = { PATH: process.env.PATH ?? '', SESAME_ADMIN_KEY: adminKey, SESAME_API_URL: apiUrl, SESAME_WS_URL: wsUrl };
    });

    afterAll(async () => {
      await server?.stop('SIGTERM');
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    // Twice: a second run must not trip over the first run's handles.
    it.each([1, 2])('run %i exits 0 and prints the message it received', async () => {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/hello.mts'], { cwd: repoRoot, env, timeout: 30_000 });
      expect(stdout).toMatch(/^helper-\S+ received from asker-\S+: Hello, helper!$/m);
    }, 60_000);
  });
});
