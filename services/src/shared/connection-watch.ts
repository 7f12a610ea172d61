import type { Cluster, Redis } from 'ioredis';
import type { Logger } from './logger.js';

/** Names the connection in its log lines: which backend, and what this process uses it for. */
export interface BackendLabel {
  backend: 'redis' | 'postgres';
  role: string;
}

/** A connection URL fit for logs: the password (and any query string, which may carry one) removed. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** Drivers sometimes echo the connection string in messages; strip `user:password@` from any. */
export function redactCredentials(text: string): string {
  return text.replace(/\/\/([^/:@\s]*):[^@\s/]*@/g, '//$1:***@');
}

function describe(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  return redactCredentials(err instanceof Error ? err.message || err.name : typeof err === 'string' ? err : JSON.stringify(err));
}

/**
 * Turns a driver's stream of errors and reconnects into two log lines per outage: `warn` when
 * the connection is lost (or never came up), `info` when it is back. Retries in between are
 * silent: an outage of a minute is one warning, not thousands.
 */
export class ConnectionWatch {
  private state: 'connecting' | 'up' | 'down' = 'connecting';
  private readonly fields: Record<string, string>;

  constructor(private readonly logger: Logger, readonly label: BackendLabel, url?: string) {
    // A URL loses its password; a Redis Cluster's `host:port,…` seed list has none to lose.
    this.fields = { backend: label.backend, role: label.role, ...(url ? { target: url.includes('://') ? redactUrl(url) : url } : {}) };
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  up(): void {
    if (this.state === 'down') this.logger.info(this.fields, `${this.label.backend} connection recovered (${this.label.role})`);
    this.state = 'up';
  }

  down(err?: unknown): void {
    if (this.state === 'down') return;
    const lost = this.state === 'up' ? 'lost' : 'unavailable';
    this.state = 'down';
    const error = describe(err);
    this.logger.warn({ ...this.fields, ...(error ? { error } : {}) }, `${this.label.backend} connection ${lost} (${this.label.role}); retrying`);
  }
}

/**
 * Watches an ioredis client. Its `error` listener is also what keeps a connection error from
 * crashing the process; ioredis retries by itself. `reconnecting` counts as a loss too: a fast
 * restart can come back without an error ever being emitted.
 */
export function watchRedis(redis: Redis | Cluster, logger: Logger, role: string, url: string): ConnectionWatch {
  const watch = new ConnectionWatch(logger, { backend: 'redis', role }, url);
  redis.on('ready', () => { watch.up(); });
  redis.on('error', (err: unknown) => { watch.down(err); });
  redis.on('reconnecting', () => { watch.down(); });
  return watch;
}
