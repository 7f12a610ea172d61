import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterBus, RedisBus, type Bus, type BusMessage } from '../src/shared/bus/index.js';
import { ConfigError, loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';
import { redisTarget, verifyRedisAccess, type RedisTarget } from '../src/shared/redis-client.js';
import { TestRedis, TestRedisCluster } from './support/cluster.js';
import { configIssues } from './support/config.js';
import { spawnServer } from './support/process.js';

/**
 * Credentials and TLS to Redis: `REDIS_URL` carrying a password, and for a cluster (whose seed
 * list has no place for one) `REDIS_USERNAME`/`REDIS_PASSWORD`/`REDIS_TLS`/`REDIS_TLS_CA_FILE`.
 * The live parts start Redis servers of their own (`requirepass`, `tls-port`); they need
 * redis-server ≥ 7 like the other cluster tests, and fail in CI without it.
 */
const enabled = Boolean(process.env.TEST_REDIS_CLUSTER_NODES) || Boolean(process.env.CI);
const logger = createLogger('silent', 'test');

async function refusal(target: RedisTarget): Promise<ConfigError['issues']> {
  try {
    await verifyRedisAccess(target);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

/** Publishes on a stream topic and a control topic from one bus; resolves with what the other heard. */
async function roundTrip(publisher: Bus, subscriber: Bus): Promise<number[]> {
  const heard: number[] = [];
  const topics = [`auth-${Date.now()}-${Math.random()}`, `control:auth-${Date.now()}`];
  for (const topic of topics) subscriber.subscribe(topic, (m) => { if (m.kind === 'ephemeral') heard.push(m.frame.n as number); });
  await subscriber.ready();
  await publisher.ready();
  for (const [n, topic] of topics.entries()) await publisher.publish(topic, { kind: 'ephemeral', frame: { type: 'probe', n } } satisfies BusMessage);
  const deadline = Date.now() + 10_000;
  while (heard.length < topics.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return heard.sort();
}

/** `sesame-server worker` with these Redis settings: it must stop at start (before any database work). */
async function startFails(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const server = spawnServer('worker', { DATABASE_URL: 'postgres://127.0.0.1:1/unused', SESAME_JWT_SECRET: 'j'.repeat(48), ...env });
  const code = await Promise.race([server.exited, new Promise<'running'>((r) => setTimeout(() => { r('running'); }, 60_000))]);
  if (code === 'running') await server.stop('SIGKILL');
  return { code: code === 'running' ? -1 : code, output: server.stdout() + server.stderr() };
}

/** With the cluster configured by `env`, access is verified and two buses exchange messages both ways. */
async function expectClusterPubSub(env: Record<string, string>): Promise<void> {
  const target = redisTarget(loadConfig(env))! as Extract<RedisTarget, { mode: 'cluster' }>;
  expect(await refusal(target)).toEqual([]);
  const buses = [new ClusterBus(target, logger), new ClusterBus(target, logger)];
  try {
    expect(await roundTrip(buses[0], buses[1])).toEqual([0, 1]);
  } finally {
    await Promise.all(buses.map((b) => b.close()));
  }
}

describe('Redis credentials and TLS settings', () => {
  it('are checked against the Redis they apply to, naming the variable and never the value', () => {
    const secret = 'pw-Secret-0451';
    const cases: Array<[Record<string, string>, string, string]> = [
      [{ REDIS_PASSWORD: secret }, 'REDIS_PASSWORD', 'without REDIS_URL or REDIS_CLUSTER_NODES'],
      [{ REDIS_URL: `redis://:${secret}@redis:6379`, REDIS_PASSWORD: secret }, 'REDIS_PASSWORD', 'one place'],
      [{ REDIS_URL: `redis://app:${secret}@redis:6379`, REDIS_USERNAME: 'app' }, 'REDIS_USERNAME', 'one place'],
      [{ REDIS_URL: 'redis://redis:6379', REDIS_TLS: 'true' }, 'REDIS_TLS', 'rediss://'],
      [{ REDIS_URL: 'rediss://redis:6379', REDIS_TLS_CA_FILE: '/etc/hostname' }, 'REDIS_TLS_CA_FILE', 'NODE_EXTRA_CA_CERTS'],
      [{ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_TLS: 'yes' }, 'REDIS_TLS', 'true or false'],
      [{ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_TLS_CA_FILE: '/etc/hostname' }, 'REDIS_TLS_CA_FILE', 'without REDIS_TLS=true'],
      [{ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, 'REDIS_TLS_CA_FILE', 'cannot read'],
      [{ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: '/etc/hostname' }, 'REDIS_TLS_CA_FILE', 'no PEM certificate'],
      [{ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_USERNAME: 'app' }, 'REDIS_USERNAME', 'without a password'],
    ];
    for (const [env, variable, message] of cases) {
      const found = configIssues(env);
      expect(found, JSON.stringify(env)).toEqual([{ variable, message: expect.stringContaining(message) as string }]);
      expect(found[0].message).not.toContain(secret);
    }
  });

  it('go with the target to every connection: a URL keeps its own, a cluster takes the variables', () => {
    expect(redisTarget(loadConfig({ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' }))).toEqual({
      mode: 'cluster', nodes: [{ host: 'redis-0', port: 6379 }], access: { username: 'app', password: 'pw', tls: true },
    });
    expect(redisTarget(loadConfig({ REDIS_URL: 'rediss://:pw@redis:6380' }))).toEqual({ mode: 'single', url: 'rediss://:pw@redis:6380' });
    // Written into the URL (percent-encoded), so every connection made from it carries them.
    expect(redisTarget(loadConfig({ REDIS_URL: 'redis://redis:6379', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'p@ss:w/rd' }))).toEqual({
      mode: 'single', url: 'redis://app:p%40ss%3Aw%2Frd@redis:6379', access: { username: 'app', password: 'p@ss:w/rd' },
    });
  });
});

describe.runIf(enabled)('a password-protected Redis', () => {
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const wrong = `wrong-${Math.random().toString(36).slice(2)}`;
  let single: TestRedis;
  let cluster: TestRedisCluster;

  beforeAll(async () => {
    single = await TestRedis.start({ password });
    cluster = TestRedisCluster.start(3, 0, { password });
  }, 60_000);
  afterAll(async () => {
    await single?.stop();
    cluster?.stop();
  });

  it('REDIS_URL may carry the password (or leave it to REDIS_PASSWORD); a wrong or missing one is named, not echoed', async () => {
    const withPassword = `redis://:${password}@127.0.0.1:${single.port}`;
    const buses = [new RedisBus(withPassword, logger), new RedisBus(withPassword, logger)];
    try {
      expect(await roundTrip(buses[0], buses[1])).toEqual([0, 1]);
    } finally {
      await Promise.all(buses.map((b) => b.close()));
    }
    const fromVariable = redisTarget(loadConfig({ REDIS_URL: single.url, REDIS_PASSWORD: password }))! as Extract<RedisTarget, { mode: 'single' }>;
    expect(await refusal(fromVariable)).toEqual([]);
    const viaVariable = [new RedisBus(fromVariable.url, logger), new RedisBus(fromVariable.url, logger)];
    try {
      expect(await roundTrip(viaVariable[0], viaVariable[1])).toEqual([0, 1]);
    } finally {
      await Promise.all(viaVariable.map((b) => b.close()));
    }
    const wrongVariable = await refusal(redisTarget(loadConfig({ REDIS_URL: single.url, REDIS_PASSWORD: wrong }))!);
    expect(wrongVariable).toEqual([{ variable: 'REDIS_PASSWORD', message: expect.stringContaining('refused the configured credentials') as string }]);
    expect(JSON.stringify(wrongVariable)).not.toContain(wrong);
    const missing = await refusal(redisTarget(loadConfig({ REDIS_URL: single.url }))!);
    expect(missing).toEqual([{ variable: 'REDIS_PASSWORD', message: expect.stringContaining('requires a password') as string }]);
    const inUrl = await refusal(redisTarget(loadConfig({ REDIS_URL: `redis://:${wrong}@127.0.0.1:${single.port}` }))!);
    expect(inUrl).toEqual([{ variable: 'REDIS_URL', message: expect.stringContaining('refused the configured credentials') as string }]);
    expect(JSON.stringify(inUrl)).not.toContain(wrong);
  }, 60_000);

  it('cluster: without the password or with a wrong one the process stops at start naming REDIS_PASSWORD, never printing it', async () => {
    const missing = await startFails({ REDIS_CLUSTER_NODES: cluster.nodes });
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/REDIS_PASSWORD: Redis at 127\.0\.0\.1:\d+ requires a password/);
    const refused = await startFails({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PASSWORD: wrong });
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/REDIS_PASSWORD: Redis at 127\.0\.0\.1:\d+ refused the configured credentials \(WRONGPASS/);
    expect(refused.output).not.toContain(wrong);
    expect(refused.output).not.toContain(password);
  }, 120_000);

  it('cluster: with REDIS_PASSWORD, sharded and classic pub/sub work', async () => {
    await expectClusterPubSub({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PASSWORD: password });
  }, 60_000);
});

/**
 * TLS: Debian's redis-server is built with TLS (`tls-port`); a throwaway CA and node certificate
 * (for 127.0.0.1) are made with openssl here. Without openssl the test is skipped, saying why.
 */
const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(enabled)('a Redis Cluster over TLS with a password', () => {
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const certs = mkdtempSync(join(tmpdir(), 'sesame-redis-tls-'));
  let cluster: TestRedisCluster | undefined;

  beforeAll(() => {
    if (!hasOpenssl) return;
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'ignore' });
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=Sesame test CA');
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(certs, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl('x509', '-req', '-in', 'redis.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'redis.crt', '-days', '1', '-extfile', 'san.cnf');
    cluster = TestRedisCluster.start(3, 0, { password, tlsDir: certs });
  }, 60_000);
  afterAll(() => {
    cluster?.stop();
    rmSync(certs, { recursive: true, force: true });
  });

  it('REDIS_TLS with REDIS_TLS_CA_FILE: pub/sub works; without the CA the start stops naming REDIS_TLS', async (context) => {
    if (!cluster) context.skip('openssl not found: no certificates for a TLS cluster');
    const nodes = cluster!.nodes;
    await expectClusterPubSub({ REDIS_CLUSTER_NODES: nodes, REDIS_PASSWORD: password, REDIS_TLS: 'true', REDIS_TLS_CA_FILE: join(certs, 'ca.crt') });
    const untrusted = await startFails({ REDIS_CLUSTER_NODES: nodes, REDIS_PASSWORD: password, REDIS_TLS: 'true' });
    expect(untrusted.code).toBe(1);
    expect(untrusted.output).toMatch(/REDIS_TLS: TLS with Redis at 127\.0\.0\.1:\d+ failed \(SELF_SIGNED_CERT_IN_CHAIN/);
    expect(untrusted.output).not.toContain(password);
  }, 120_000);
});
