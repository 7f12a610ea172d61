import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { repoRoot, spawnNode, type Child } from './child.js';
import type { TestServices } from './test-services.js';

export interface SesameServers {
  api: Child;
  gateway: Child;
  /** Every gateway (`gateway` is the first). */
  gateways: Child[];
  /** `http://127.0.0.1:port/api/v1` */
  apiUrl: string;
  /** `ws://127.0.0.1:port/v1/connect` */
  gatewayUrl: string;
  gatewayUrls: string[];
  adminKey: string;
  rest: SesameRest;
}

export interface SesameOptions {
  /** Extra node flags for the gateway process (e.g. `--inspect=127.0.0.1:0`). */
  gatewayNodeArgs?: string[];
  /** Extra node flags for the api process (e.g. `--cpu-prof`). */
  apiNodeArgs?: string[];
  env?: Record<string, string>;
  /** Gateway processes (default 1). */
  gateways?: number;
  /** The admin key; a deployment sharing a database with another passes the other's. */
  adminKey?: string;
  /** Names the processes apart when a bench runs several deployments. */
  label?: string;
}

/** The env every bench gives Sesame: loopback, quiet logs, no rate limit or per-address cap in the way. */
function sesameEnv(services: TestServices, adminKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    GATEWAY_PORT: '0',
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    SESAME_BOOTSTRAP_API_KEY: adminKey,
    SESAME_JWT_SECRET: randomBytes(32).toString('base64url'),
    SESAME_RATE_LIMIT_PER_MINUTE: '100000000',
    SESAME_READ_RATE_LIMIT_PER_MINUTE: '100000000',
    // Every bench client connects from 127.0.0.1.
    SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    SESAME_DATA_DIR: `${services.dir}/sesame`,
    // An A/B of the GC setting (docs/operations.md, "Garbage collection"): passed on when given, else Sesame's default.
    ...(process.env.SESAME_SERIAL_SCAVENGE ? { SESAME_SERIAL_SCAVENGE: process.env.SESAME_SERIAL_SCAVENGE } : {}),
    ...extra,
  };
}

function spawnRole(role: 'api' | 'gateway' | 'worker', env: Record<string, string>, nodeArgs: string[] = [], label = `sesame ${role}`): Child {
  // The compiled server, as production runs it (`npm run bench` builds it first).
  return spawnNode([...nodeArgs, '--enable-source-maps', 'bin/sesame-server.mjs', role], {
    cwd: `${repoRoot}services`, env, label,
  });
}

/** Separate api and gateway processes (as deployed), on the given PostgreSQL + Redis. */
export async function startSesame(services: TestServices, options: SesameOptions = {}): Promise<SesameServers> {
  const adminKey = options.adminKey ?? `sk_bench${randomBytes(18).toString('base64url')}`;
  const env = sesameEnv(services, adminKey, options.env);
  const prefix = options.label ? `${options.label} ` : 'sesame ';
  const api = spawnRole('api', env, options.apiNodeArgs, `${prefix}api`);
  const apiMatch = await api.waitForOutput(/API:\s+(http:\/\/\S+\/api\/v1)/);
  // After the api: it has run the migrations and created the admin.
  const gateways = await Promise.all(Array.from({ length: options.gateways ?? 1 }, async (_, i) => {
    const gateway = spawnRole('gateway', env, options.gatewayNodeArgs, `${prefix}gateway${options.gateways ? ` ${i + 1}` : ''}`);
    const match = await gateway.waitForOutput(/Gateway:\s+(ws:\/\/\S+\/v1\/connect)/);
    return { gateway, url: match[1] };
  }));
  const apiUrl = apiMatch[1];
  return {
    api, gateway: gateways[0].gateway, gateways: gateways.map((g) => g.gateway), apiUrl, gatewayUrl: gateways[0].url,
    gatewayUrls: gateways.map((g) => g.url), adminKey, rest: new SesameRest(apiUrl, adminKey),
  };
}

/** A worker process (webhook deliveries, housekeeping) beside `startSesame`'s api and gateway. */
export async function startSesameWorker(services: TestServices, servers: SesameServers, env: Record<string, string> = {}): Promise<Child> {
  const worker = spawnRole('worker', sesameEnv(services, servers.adminKey, env));
  await worker.waitForOutput(/Sesame is running/);
  return worker;
}

export interface CreatedAgent { id: string; handle: string; apiKey: string }
export interface SentMessage { id: string; seq: number; channelId: string }
export interface StreamEvent { type: string; stream: string; seq: number; data: unknown }

/** The few REST calls the benches need, as `key`'s principal. */
export class SesameRest {
  constructor(readonly apiUrl: string, readonly key: string) {}

  as(key: string): SesameRest {
    return new SesameRest(this.apiUrl, key);
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  }

  async createAgent(handle: string): Promise<CreatedAgent> {
    const { data } = await this.call<{ data: { agent: { id: string; handle: string }; apiKey: string } }>('POST', '/agents', { handle });
    return { id: data.agent.id, handle: data.agent.handle, apiKey: data.apiKey };
  }

  /** `count` agents named `${prefix}-${i}`, `concurrency` requests at a time. */
  async createAgents(prefix: string, count: number, concurrency = 16): Promise<CreatedAgent[]> {
    const agents = new Array<CreatedAgent>(count);
    let next = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        agents[i] = await this.createAgent(`${prefix}-${i}`);
      }
    }));
    return agents;
  }

  async createGroup(name: string, memberIds: string[]): Promise<{ id: string; headSeq: number }> {
    const { data } = await this.call<{ data: { id: string; headSeq: number } }>('POST', '/channels', { kind: 'group', name, memberIds });
    return data;
  }

  async sendMessage(channelId: string, content: string): Promise<SentMessage> {
    const { data } = await this.call<{ data: SentMessage }>('POST', `/channels/${channelId}/messages`, { content, kind: 'text' });
    return data;
  }

  async events(stream: string, after: number, limit: number): Promise<{ data: StreamEvent[]; pagination: { hasMore: boolean; nextCursor: string | null } }> {
    return this.call('GET', `/streams/${encodeURIComponent(stream)}/events?after=${after}&limit=${limit}`);
  }
}

/**
 * Sends messages to one channel the way a latency bench should: `node:http` over kept-alive
 * connections, the request written the moment `send` is called. `fetch` (undici) spends a few
 * hundred µs of the sender's CPU per request before the bytes leave — time that would count as
 * Sesame's latency while the peers' senders write on an open socket.
 */
export class MessagePoster {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 });
  private readonly url: URL;

  constructor(apiUrl: string, private readonly key: string, channelId: string) {
    this.url = new URL(`${apiUrl}/channels/${channelId}/messages`);
  }

  send(content: string): Promise<SentMessage> {
    const body = JSON.stringify({ content, kind: 'text' });
    return new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: 'POST', agent: this.agent,
        headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { text += chunk; });
        res.on('end', () => {
          if (res.statusCode !== 200 && res.statusCode !== 201) { reject(new Error(`POST ${this.url.pathname}: ${String(res.statusCode)} ${text.slice(0, 500)}`)); return; }
          try { resolve((JSON.parse(text) as { data: SentMessage }).data); } catch (err) { reject(err instanceof Error ? err : new Error(String(err))); }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
