import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomKey } from './api.js';
import { freshDatabase, type TestDatabase } from './context.js';
import { spawnServer, type ServerProcess } from './process.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => { resolve(port); });
    });
  });
}

/** A Redis of the test's own, so it can be killed and restarted mid-stream. */
export class TestRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sesame-redis-'));
  private constructor(readonly port: number) {}

  static async start(): Promise<TestRedis> {
    const redis = new TestRedis(await freePort());
    await redis.launch();
    return redis;
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }

  private async launch() {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { stdio: 'ignore' });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('redis-server did not start');
  }

  /** Kills Redis (losing everything in it, like a crash without persistence). */
  async kill() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async restart() {
    await this.kill();
    await this.launch();
  }

  async stop() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Node { name: string; process: ServerProcess; port: number; url: string }

/**
 * Separate api and gateway processes on real Postgres (a fresh database) and a Redis of the
 * test's own: the production topology, on loopback. Ports are fixed per node so a restarted
 * node comes back where its clients look for it.
 */
export class TestCluster {
  readonly adminKey = randomKey();
  api!: Node;
  readonly gateways: Node[] = [];
  private constructor(readonly database: TestDatabase, readonly redis: TestRedis, readonly env: Record<string, string>) {}

  static async start(options: { gateways: number; env?: Record<string, string> }): Promise<TestCluster> {
    const database = await freshDatabase('postgres');
    const redis = await TestRedis.start();
    const cluster = new TestCluster(database, redis, {
      DATABASE_URL: database.url!, REDIS_URL: redis.url, SESAME_JWT_SECRET: randomKey(), SESAME_BOOTSTRAP_API_KEY: '', SESAME_RATE_LIMIT_PER_MINUTE: '1000000',
      SESAME_HEAD_POLL_INTERVAL_MS: '250', SESAME_PRESENCE_TTL_MS: '2000', LOG_LEVEL: 'warn', ...options.env,
    });
    cluster.env.SESAME_BOOTSTRAP_API_KEY = cluster.adminKey;
    // The api first: it runs migrations and creates the admin before the gateways start.
    cluster.api = await cluster.launch('api', 'api', await freePort());
    const gateways = await Promise.all(Array.from({ length: options.gateways }, async (_, i) => cluster.launch(`gateway-${i}`, 'gateway', await freePort())));
    cluster.gateways.push(...gateways);
    return cluster;
  }

  get apiUrl() { return this.api.url; }
  get wsUrls() { return this.gateways.map((g) => g.url); }

  private async launch(name: string, role: 'api' | 'gateway', port: number): Promise<Node> {
    const env = { ...this.env, ...(role === 'api' ? { PORT: String(port) } : { GATEWAY_PORT: String(port) }) };
    const process = spawnServer(role, env);
    if (role === 'api') await process.waitForOutput(/API:\s+http/);
    else await process.waitForOutput(/Gateway:\s+ws/);
    return { name, process, port, url: role === 'api' ? `http://127.0.0.1:${port}` : `ws://127.0.0.1:${port}` };
  }

  /** `kill -9` a node: no goodbye to its clients, no cleanup in Redis. */
  async kill(node: Node) {
    await node.process.stop('SIGKILL');
  }

  /** Starts a killed or stopped node again on its port. */
  async restart(node: Node) {
    if (node.process.child.exitCode === null) await node.process.stop('SIGTERM');
    const role = node.name === 'api' ? 'api' : 'gateway';
    const fresh = await this.launch(node.name, role, node.port);
    node.process = fresh.process;
  }

  async stop() {
    await Promise.all([this.api, ...this.gateways].filter(Boolean).map((n) => n.process.stop('SIGKILL')));
    await this.redis.stop();
    await this.database.drop();
  }
}
