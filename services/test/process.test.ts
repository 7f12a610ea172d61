import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { spawnServer } from './support/process.js';
import { requireServices, targets } from './support/targets.js';
import { freshDatabase } from './support/context.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

async function call(base: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

describe('the sesame-server process', () => {
  it('starts embedded, survives a graceful restart with its data, and exits 0 on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sesame-restart-'));
    dirs.push(dataDir);
    const key = randomKey();
    const env = { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: key, PORT: '0', GATEWAY_PORT: '0' };

    const first = spawnServer('start', env);
    const [, apiUrl] = await first.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    expect(first.stdout()).toMatch(/Gateway:\s+ws:\/\/\S+\/v1\/connect/);
    const agent = await call(apiUrl, key, 'POST', '/agents', { handle: 'persistent' });
    expect(agent.status).toBe(201);
    const channel = await call(apiUrl, agent.body.data.apiKey, 'POST', '/channels', { kind: 'channel', name: 'keep', memberIds: [] });
    await call(apiUrl, agent.body.data.apiKey, 'POST', `/channels/${channel.body.data.id}/messages`, { content: 'still here?' });
    expect(await first.stop('SIGTERM')).toBe(0);

    const second = spawnServer('start', env);
    const [, apiUrl2] = await second.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    const history = await call(apiUrl2, agent.body.data.apiKey, 'GET', `/channels/${channel.body.data.id}/messages`);
    expect(history.status).toBe(200);
    expect(history.body.data.map((m: { content: string }) => m.content)).toEqual(['still here?']);
    expect(second.stdout()).not.toContain('shown only this once');
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 120_000);

  it('prints a one-time admin key on first start without a bootstrap key, never again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sesame-firstkey-'));
    dirs.push(dataDir);
    const env = { SESAME_DATA_DIR: dataDir, PORT: '0', GATEWAY_PORT: '0' };
    const first = spawnServer('start', env);
    const [, key] = await first.waitForOutput(/shown only this once:\s+(sk_\S+)/);
    const [, apiUrl] = await first.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    expect((await call(apiUrl, key, 'GET', '/auth/me')).body.data.isAdmin).toBe(true);
    expect(await first.stop()).toBe(0);
    const second = spawnServer('start', env);
    await second.waitForOutput(/API:/);
    expect(second.stdout()).not.toContain('sk_');
    expect(await second.stop()).toBe(0);
  }, 120_000);

  // The production path: compiled JavaScript through the bin, no tsx, no `source` condition, run
  // from another directory. dist/ comes from turbo (`test` depends on this package's `build`).
  it('runs from the built bin (dist/), not from the TypeScript sources', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sesame-built-'));
    dirs.push(dataDir);
    const server = spawnServer('start', { SESAME_DATA_DIR: dataDir, PORT: '0', GATEWAY_PORT: '0', NODE_ENV: 'production' }, { entry: 'built', cwd: dataDir });
    try {
      const [, apiUrl] = await server.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
      const [, wsUrl] = await server.waitForOutput(/Gateway:\s+ws:\/\/(\S+)\/v1\/connect/);
      const health = await fetch(`${apiUrl}/api/v1/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'healthy' });
      expect((await fetch(`http://${wsUrl}/health`)).status).toBe(200);
      expect(await server.stop('SIGTERM')).toBe(0);
    } finally {
      await server.stop('SIGKILL');
    }
  }, 120_000);

  it('refuses a bad configuration, naming the variable, with a non-zero exit', async () => {
    const bad = spawnServer('start', { PORT: 'eighty' });
    expect(await bad.exited).not.toBe(0);
    expect(bad.stderr()).toContain('PORT');
    const alone = spawnServer('gateway', {});
    expect(await alone.exited).not.toBe(0);
    expect(alone.stderr()).toContain('DATABASE_URL');
  }, 60_000);

  it.runIf(targets().includes('postgres'))('runs the api alone on real Postgres and Redis', async () => {
    const { redisUrl } = requireServices();
    const database = await freshDatabase('postgres');
    const key = randomKey();
    const api = spawnServer('api', { DATABASE_URL: database.url!, REDIS_URL: redisUrl, SESAME_JWT_SECRET: randomKey(), SESAME_BOOTSTRAP_API_KEY: key, PORT: '0' });
    try {
      const [, apiUrl] = await api.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
      expect(api.stdout()).not.toContain('Gateway:');
      expect((await call(apiUrl, key, 'GET', '/auth/me')).status).toBe(200);
      expect(await api.stop()).toBe(0);
    } finally {
      await api.stop('SIGKILL');
      await database.drop();
    }
  }, 120_000);
});
