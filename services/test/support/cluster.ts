import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  private constructor(readonly port: number, private readonly password?: string) {}

  /** With `password`, Redis requires it (`requirepass`); `url` leaves it out. */
  static async start(options: { password?: string } = {}): Promise<TestRedis> {
    const redis = new TestRedis(await freePort(), options.password);
    await redis.launch();
    return redis;
  }

  get url() { return `redis://127.0.0.1:${this.port}`; }

  private async launch() {
    const auth = this.password ? ['--requirepass', this.password] : [];
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...auth], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try {
        const out = execFileSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, REDISCLI_AUTH: this.password ?? '' } });
        if (!out.includes('PONG')) throw new Error(out);
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

const clusterScript = fileURLToPath(new URL('../../../scripts/dev/redis-cluster.sh', import.meta.url));

/** One node of a Redis Cluster as `CLUSTER NODES` reports it. */
export interface RedisClusterNode { id: string; port: number; role: 'master' | 'replica'; masterId?: string; failed: boolean }

/**
 * A Redis Cluster of the test's own (`scripts/dev/redis-cluster.sh`), so a master can be
 * killed mid-stream without disturbing other test files.
 */
export class TestRedisCluster {
  private constructor(readonly nodes: string, private readonly dir: string) {}

  /**
   * `password`: every node requires it; `tlsDir`: nodes speak TLS only, with the CA and node
   * certificate in that directory (`ca.crt`, `redis.crt`, `redis.key`). The script's watchdog
   * stops the cluster if this test process dies without `stop`.
   */
  static start(masters = 3, replicasPerMaster = 0, options: { password?: string; tlsDir?: string } = {}): TestRedisCluster {
    const args = [clusterScript, 'start', String(masters), String(replicasPerMaster), '--owner', String(process.pid)];
    if (options.password) args.push('--requirepass', '-');
    if (options.tlsDir) args.push('--tls', options.tlsDir);
    const output = execFileSync('bash', args, { encoding: 'utf8', env: { ...process.env, REDIS_CLUSTER_PASSWORD: options.password ?? '' } });
    const values = Object.fromEntries(output.trim().split('\n').map((line) => { const [key, ...rest] = line.split('='); return [key, rest.join('=')]; }));
    return new TestRedisCluster(values.TEST_REDIS_CLUSTER_NODES, values.SESAME_TEST_REDIS_CLUSTER_DIR);
  }

  /** `kill -9` one node (its replica takes over after cluster-node-timeout). */
  kill(port: number) {
    execFileSync('bash', ['-c', `kill -9 "$(cat '${this.dir}/${port}.pid')"`]);
  }

  stop() {
    execFileSync('bash', [clusterScript, 'stop', this.dir], { stdio: 'ignore' });
  }
}

/** The cluster's view from any live node in `nodes` (host:port,…). */
export function redisClusterNodes(nodes: string): RedisClusterNode[] {
  for (const address of nodes.split(',')) {
    const port = Number(address.split(':')[1]);
    let text: string;
    try {
      text = execFileSync('redis-cli', ['-p', String(port), 'cluster', 'nodes'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch { continue; }
    if (!text.trim() || text.includes('Connection refused')) continue;
    return text.trim().split('\n').map((line) => {
      const [id, addr, flags, master] = line.split(' ') as [string, string, string, string];
      return {
        id, port: Number(addr.split('@')[0].split(':')[1]), role: flags.includes('master') ? 'master' : 'replica',
        ...(master !== '-' ? { masterId: master } : {}), failed: flags.includes('fail'),
      };
    });
  }
  throw new Error(`no Redis Cluster node answers among ${nodes}`);
}

/** `PUBSUB SHARDCHANNELS pattern` on one node. */
export function shardChannels(port: number, pattern = '*'): string[] {
  const text = execFileSync('redis-cli', ['-p', String(port), 'pubsub', 'shardchannels', pattern], { encoding: 'utf8' });
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

export interface Node { name: string; process: ServerProcess; port: number; url: string }
type Role = 'api' | 'gateway' | 'worker';

/**
 * Separate api, gateway (and worker) processes on real Postgres (a fresh database) and a Redis
 * of the test's own — or, with `redisClusterNodes`, a Redis Cluster the caller owns: the
 * production topology, on loopback. Ports are fixed per node so a restarted node comes back
 * where its clients look for it.
 */
export class TestCluster {
  readonly adminKey = randomKey();
  readonly apis: Node[] = [];
  readonly gateways: Node[] = [];
  readonly workers: Node[] = [];
  private constructor(readonly database: TestDatabase, private readonly ownRedis: TestRedis | undefined, readonly env: Record<string, string>) {}

  /** The test's own single Redis (not with `redisClusterNodes`). */
  get redis(): TestRedis {
    if (!this.ownRedis) throw new Error('this TestCluster runs on a Redis Cluster the caller owns');
    return this.ownRedis;
  }

  static async start(options: { gateways: number; apis?: number; workers?: number; redisClusterNodes?: string; env?: Record<string, string> }): Promise<TestCluster> {
    const database = await freshDatabase('postgres');
    const redis = options.redisClusterNodes ? undefined : await TestRedis.start();
    const cluster = new TestCluster(database, redis, {
      DATABASE_URL: database.url!, ...(redis ? { REDIS_URL: redis.url } : { REDIS_CLUSTER_NODES: options.redisClusterNodes! }),
      SESAME_JWT_SECRET: randomKey(), SESAME_BOOTSTRAP_API_KEY: '', SESAME_RATE_LIMIT_PER_MINUTE: '1000000',
      SESAME_HEAD_POLL_INTERVAL_MS: '250', SESAME_PRESENCE_TTL_MS: '2000', LOG_LEVEL: 'warn', ...options.env,
    });
    cluster.env.SESAME_BOOTSTRAP_API_KEY = cluster.adminKey;
    // One api first: it runs migrations and creates the admin before the others start.
    cluster.apis.push(await cluster.launch('api', 'api', await freePort()));
    const rest = await Promise.all([
      ...Array.from({ length: (options.apis ?? 1) - 1 }, async (_, i) => cluster.launch(`api-${i + 1}`, 'api', await freePort())),
      ...Array.from({ length: options.gateways }, async (_, i) => cluster.launch(`gateway-${i}`, 'gateway', await freePort())),
      ...Array.from({ length: options.workers ?? 0 }, async (_, i) => cluster.launch(`worker-${i}`, 'worker', 0)),
    ]);
    for (const node of rest) (node.name.startsWith('api') ? cluster.apis : node.name.startsWith('gateway') ? cluster.gateways : cluster.workers).push(node);
    return cluster;
  }

  get api() { return this.apis[0]; }
  get apiUrl() { return this.api.url; }
  get apiUrls() { return this.apis.map((a) => a.url); }
  get wsUrls() { return this.gateways.map((g) => g.url); }

  private async launch(name: string, role: Role, port: number): Promise<Node> {
    const env = { ...this.env, ...(role === 'api' ? { PORT: String(port) } : role === 'gateway' ? { GATEWAY_PORT: String(port) } : { WORKER_METRICS_PORT: '0' }) };
    const process = spawnServer(role, env);
    if (role === 'api') await process.waitForOutput(/API:\s+http/);
    else if (role === 'gateway') await process.waitForOutput(/Gateway:\s+ws/);
    else await process.waitForOutput(/Sesame is running/);
    return { name, process, port, url: role === 'api' ? `http://127.0.0.1:${port}` : role === 'gateway' ? `ws://127.0.0.1:${port}` : '' };
  }

  /** `kill -9` a node: no goodbye to its clients, no cleanup in Redis. */
  async kill(node: Node) {
    await node.process.stop('SIGKILL');
  }

  /** Starts a killed or stopped node again on its port. */
  async restart(node: Node) {
    if (node.process.child.exitCode === null) await node.process.stop('SIGTERM');
    const role: Role = node.name.startsWith('api') ? 'api' : node.name.startsWith('gateway') ? 'gateway' : 'worker';
    const fresh = await this.launch(node.name, role, node.port);
    node.process = fresh.process;
  }

  async stop() {
    await Promise.all([...this.apis, ...this.gateways, ...this.workers].map((n) => n.process.stop('SIGKILL')));
    await this.ownRedis?.stop();
    await this.database.drop();
  }
}

/**
 * Which of `pids` holds the TCP socket whose local port (on this machine) is `port` — who is at
 * the other end of a loopback connection a test accepted, or of a Postgres backend
 * (`pg_stat_activity.client_port`). Linux only: `/proc/net/tcp{,6}` name the socket's inode,
 * `/proc/<pid>/fd` who holds it.
 */
export function processOwningPort(port: number, pids: number[]): number | undefined {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try { text = readFileSync(table, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns[1]?.endsWith(hex) && columns[9]) inodes.add(columns[9]);
    }
  }
  for (const pid of pids) {
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      let link = '';
      try { link = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (inode && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}
