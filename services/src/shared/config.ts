import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseOutboundAllow } from './outbound/address-policy.js';

/**
 * Every environment variable Sesame reads, validated once at start. A bad value stops the process
 * with a message naming the variable. docs/configuration.md mirrors this file.
 *
 * One TypeBox schema (the same library as the route schemas), checked by Ajv, which coerces the
 * env strings (`"8080"` → 8080, `"true"` → true; `"1.5"` is no integer) and fills the defaults.
 * `errorMessage` on a schema replaces Ajv's generic message for that variable.
 */
const int = (options: { minimum: number; maximum?: number; default: number }) => Type.Integer(options);
const port = (fallback: number) => int({ minimum: 0, maximum: 65535, default: fallback });
const oneOf = <T extends string>(values: readonly T[], fallback: T) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], default: fallback, errorMessage: `must be one of ${values.join(', ')}` });
const url = (errorMessage = 'must be a valid URL') => Type.String({ format: 'url', errorMessage });
const urlWithProtocols = (...protocols: string[]) => Type.String({
  format: 'url', pattern: `^(${protocols.map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})`,
  errorMessage: `must be a URL starting with ${protocols.join(' or ')}`,
});

const schema = Type.Object({
  NODE_ENV: oneOf(['development', 'production', 'test'], 'development'),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: port(13531),
  GATEWAY_PORT: port(13532),
  WORKER_METRICS_PORT: port(13533),
  SESAME_DATA_DIR: Type.String({ minLength: 1, default: '.sesame' }),
  DATABASE_URL: Type.Optional(urlWithProtocols('postgres://', 'postgresql://')),
  DATABASE_POOL_SIZE: int({ minimum: 1, maximum: 200, default: 10 }),
  DATABASE_POOL_MIN: int({ minimum: 0, maximum: 200, default: 2 }),
  SESAME_WRITE_BATCHES_IN_FLIGHT: int({ minimum: 1, maximum: 4, default: 1 }),
  REDIS_URL: Type.Optional(urlWithProtocols('redis://', 'rediss://')),
  // Checked entry by entry after the schema (`parseRedisClusterNodes`), so the message names the bad entry.
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ minLength: 1 })),
  // Credentials and TLS for the Redis of either mode; checked together after the schema (`checkRedisAccess`).
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_TLS: Type.Optional(Type.Boolean({ errorMessage: 'must be true or false' })),
  REDIS_TLS_CA_FILE: Type.Optional(Type.String({ minLength: 1 })),
  SESAME_BOOTSTRAP_API_KEY: Type.Optional(Type.String({ pattern: '^sk_[A-Za-z0-9_-]{16,}$', errorMessage: 'must look like sk_ followed by at least 16 url-safe characters' })),
  SESAME_VAULT_KEY: Type.Optional(Type.String({
    pattern: '^\\s*([A-Za-z0-9+/]{43}=|v[0-9]+:[A-Za-z0-9+/]{43}=(\\s*,\\s*v[0-9]+:[A-Za-z0-9+/]{43}=)*)\\s*$',
    errorMessage: 'must be a base64 32-byte key, or during a rotation a keyring "v1:<base64>,v2:<base64>"',
  })),
  SESAME_JWT_SECRET: Type.Optional(Type.String({ minLength: 32, errorMessage: 'must be at least 32 characters' })),
  SESAME_PUBLIC_URL: Type.Optional(urlWithProtocols('http://', 'https://')),
  SESAME_PUBLIC_API_URL: Type.Optional(urlWithProtocols('http://', 'https://')),
  SESAME_PUBLIC_WS_URL: Type.Optional(url()),
  SESAME_ALLOW_SIGNUP: Type.Boolean({ default: false, errorMessage: 'must be true or false' }),
  SESAME_SERIAL_SCAVENGE: Type.Boolean({ default: true, errorMessage: 'must be true or false' }),
  SESAME_TRUST_PROXY: Type.String({
    format: 'trust-proxy', default: 'false',
    errorMessage: 'must be true, false, a hop count, or a comma-separated list of addresses/CIDRs (or loopback, linklocal, uniquelocal)',
  }),
  SESAME_LOGIN_MAX_FAILURES: int({ minimum: 1, default: 10 }),
  SESAME_LOGIN_FAILURE_WINDOW_SECONDS: int({ minimum: 1, default: 900 }),
  SESAME_RATE_LIMIT_PER_MINUTE: int({ minimum: 1, default: 100 }),
  SESAME_READ_RATE_LIMIT_PER_MINUTE: int({ minimum: 1, default: 600 }),
  SESAME_AUTH_RATE_LIMIT_PER_MINUTE: int({ minimum: 1, default: 10 }),
  SESAME_BODY_LIMIT_BYTES: int({ minimum: 1024, default: 1_048_576 }),
  SESAME_ACCESS_TOKEN_TTL_SECONDS: int({ minimum: 30, default: 900 }),
  SESAME_BLOB_DIR: Type.Optional(Type.String({ minLength: 1 })),
  SESAME_MAX_UPLOAD_BYTES: int({ minimum: 1, default: 25 * 1024 * 1024 }),
  SESAME_DOWNLOAD_URL_TTL_SECONDS: int({ minimum: 1, maximum: 7 * 24 * 3600, default: 3600 }),
  SESAME_HEARTBEAT_INTERVAL_MS: int({ minimum: 1000, default: 30_000 }),
  SESAME_TASK_STREAM_PING_MS: int({ minimum: 10, default: 30_000 }),
  SESAME_SEND_BUFFER_BYTES: int({ minimum: 1024, default: 4 * 1024 * 1024 }),
  SESAME_WS_MAX_CONNECTIONS_PER_ADDRESS: int({ minimum: 1, default: 100 }),
  SESAME_CREDENTIAL_RECHECK_INTERVAL_MS: int({ minimum: 1_000, default: 60_000 }),
  SESAME_EVENT_RETENTION_DAYS: int({ minimum: 1, default: 30 }),
  SESAME_HEAD_POLL_INTERVAL_MS: int({ minimum: 100, default: 1_000 }),
  SESAME_BUS_BACKLOG_LIMIT: int({ minimum: 1, default: 10_000 }),
  SESAME_SCHEDULE_GRACE_SECONDS: int({ minimum: 0, default: 300 }),
  SESAME_PRESENCE_TTL_MS: int({ minimum: 1_000, default: 15_000 }),
  SESAME_METRICS: oneOf(['on', 'off'], 'on'),
  SESAME_PRESENCE_AUDIENCE: oneOf(['workspace', 'channels'], 'channels'),
  SESAME_REPLAY_BATCH_SIZE: int({ minimum: 10, maximum: 10_000, default: 1_000 }),
  SESAME_SHUTDOWN_TIMEOUT_MS: int({ minimum: 0, default: 10_000 }),
  SESAME_WEBHOOK_RETRY_SCHEDULE: Type.String({
    pattern: '^\\s*\\d+(ms|s|m|h|d)\\s*(,\\s*\\d+(ms|s|m|h|d)\\s*)*$', default: '5s,5m,30m,2h,5h,10h,10h',
    errorMessage: 'must be comma-separated delays such as 5s,5m,30m,2h (units ms, s, m, h, d)',
  }),
  SESAME_WEBHOOK_POLL_INTERVAL_MS: int({ minimum: 10, default: 200 }),
  SESAME_WEBHOOK_CONCURRENCY_PER_ENDPOINT: int({ minimum: 1, maximum: 1000, default: 8 }),
  SESAME_OUTBOUND_ALLOW: Type.String({
    format: 'outbound-allow', default: '',
    errorMessage: 'must be a comma-separated list of host names, IP addresses or CIDRs',
  }),
  SESAME_BROKER_APPROVAL_WAIT_SECONDS: int({ minimum: 1, maximum: 3600, default: 300 }),
  SESAME_BROKER_TIMEOUT_MS: int({ minimum: 100, maximum: 300_000, default: 30_000 }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
});

export type Config = Readonly<Static<typeof schema>>;

/** The names proxy-addr (fastify's trustProxy) accepts for address ranges. */
const TRUST_PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrCidr(entry: string): boolean {
  if (TRUST_PROXY_RANGES.has(entry)) return true;
  const parts = entry.split('/');
  const address = parts[0] ?? '';
  const prefix = parts.at(1);
  const rest = parts.slice(2);
  const family = isIP(address);
  if (!family || rest.length > 0) return false;
  if (prefix === undefined) return true;
  if (isIP(prefix)) return true; // address/netmask
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * `SESAME_TRUST_PROXY` as fastify's `trustProxy` takes it: `false` (the default: the socket
 * address is the client, `X-Forwarded-*` ignored), `true` (trust every hop: only behind a proxy
 * that overwrites the header), a hop count, or the addresses/CIDRs of the proxies. Null when the
 * value is none of these.
 */
export function parseTrustProxy(value: string): boolean | number | string[] | null {
  const trimmed = value.trim();
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const entries = trimmed.split(',').map((e) => e.trim());
  return entries.length > 0 && entries.every(isAddressOrCidr) ? entries : null;
}

// `verbose` gives each error its schema (for `errorMessage`); the offending value it also carries
// is never put in a message, so a rejected secret is not echoed.
const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false, verbose: true });
ajv.addFormat('url', (value: string) => URL.canParse(value));
ajv.addFormat('trust-proxy', (value: string) => parseTrustProxy(value) !== null);
ajv.addFormat('outbound-allow', (value: string) => {
  try {
    parseOutboundAllow(value);
    return true;
  } catch {
    return false;
  }
});
const validate = ajv.compile<Static<typeof schema>>(schema);

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** One issue per bad variable: the schema's own message when it has one, else Ajv's. */
function issuesOf(errors: ErrorObject[]): ConfigError['issues'] {
  const byVariable = new Map<string, string>();
  for (const error of errors) {
    const variable = error.instancePath.split('/')[1] ?? String(error.params.missingProperty);
    const custom: unknown = (error.parentSchema as TSchema | undefined)?.errorMessage;
    if (!byVariable.has(variable)) byVariable.set(variable, typeof custom === 'string' ? custom : error.message ?? 'is invalid');
  }
  return [...byVariable].map(([variable, message]) => ({ variable, message }));
}

/** Parse and freeze configuration. Empty strings count as unset; variables Sesame does not read are ignored. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const name of Object.keys(schema.properties)) {
    const value = env[name];
    if (value !== undefined && value !== '') input[name] = value;
  }
  if (!validate(input)) throw new ConfigError(issuesOf(validate.errors ?? []));
  if (typeof input.REDIS_CLUSTER_NODES === 'string') {
    if (input.REDIS_URL) throw new ConfigError([{ variable: 'REDIS_CLUSTER_NODES', message: 'set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both' }]);
    try {
      parseRedisClusterNodes(input.REDIS_CLUSTER_NODES);
    } catch (err) {
      throw new ConfigError([{ variable: 'REDIS_CLUSTER_NODES', message: (err as Error).message }]);
    }
  }
  checkRedisAccess(input);
  // Processes on a shared database may run on several machines: they can only agree on a
  // signing secret that is configured (the generated one lives in one machine's data dir).
  if (input.DATABASE_URL && !input.SESAME_JWT_SECRET) {
    throw new ConfigError([{ variable: 'SESAME_JWT_SECRET', message: 'required with DATABASE_URL: every process on the database must sign access tokens with the same secret (e.g. openssl rand -base64 48)' }]);
  }
  return Object.freeze(input);
}

/**
 * `REDIS_USERNAME`/`REDIS_PASSWORD`/`REDIS_TLS`/`REDIS_TLS_CA_FILE` against the Redis they apply
 * to. One place per setting: a `REDIS_URL` may carry its own password (`redis://:pw@host`,
 * `redis://user:pw@host`, or take them from REDIS_USERNAME/REDIS_PASSWORD) and chooses TLS by its
 * scheme (`rediss://`); a cluster's seed list cannot, so these variables carry them for every
 * node. Messages never include a value.
 */
function checkRedisAccess(input: Static<typeof schema>): void {
  const issues: ConfigError['issues'] = [];
  const url = input.REDIS_URL ? new URL(input.REDIS_URL) : undefined;
  if (!url && !input.REDIS_CLUSTER_NODES) {
    for (const variable of ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS', 'REDIS_TLS_CA_FILE'] as const) {
      if (input[variable] !== undefined) issues.push({ variable, message: 'set without REDIS_URL or REDIS_CLUSTER_NODES: there is no Redis to apply it to' });
    }
  }
  if (url) {
    if (url.password && input.REDIS_PASSWORD) issues.push({ variable: 'REDIS_PASSWORD', message: 'REDIS_URL already carries a password: set it in one place' });
    if (url.username && input.REDIS_USERNAME) issues.push({ variable: 'REDIS_USERNAME', message: 'REDIS_URL already carries a user name: set it in one place' });
    if (input.REDIS_TLS !== undefined) issues.push({ variable: 'REDIS_TLS', message: 'with REDIS_URL the scheme chooses TLS: use a rediss:// URL (REDIS_TLS is for REDIS_CLUSTER_NODES)' });
    if (input.REDIS_TLS_CA_FILE) issues.push({ variable: 'REDIS_TLS_CA_FILE', message: 'is for REDIS_CLUSTER_NODES with REDIS_TLS=true; for a rediss:// REDIS_URL with a private CA, name the CA file in NODE_EXTRA_CA_CERTS' });
  }
  if (input.REDIS_CLUSTER_NODES && input.REDIS_TLS_CA_FILE && !input.REDIS_TLS) {
    issues.push({ variable: 'REDIS_TLS_CA_FILE', message: 'set without REDIS_TLS=true (no TLS to verify)' });
  }
  if (input.REDIS_USERNAME && !input.REDIS_PASSWORD && !url?.password) {
    issues.push({ variable: 'REDIS_USERNAME', message: 'set without a password (REDIS_PASSWORD): Redis ACL users authenticate with both' });
  }
  if (input.REDIS_TLS_CA_FILE && !issues.some((i) => i.variable === 'REDIS_TLS_CA_FILE')) {
    try {
      if (!readFileSync(input.REDIS_TLS_CA_FILE, 'utf8').includes('-----BEGIN CERTIFICATE-----')) {
        issues.push({ variable: 'REDIS_TLS_CA_FILE', message: `${input.REDIS_TLS_CA_FILE} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
      }
    } catch (err) {
      issues.push({ variable: 'REDIS_TLS_CA_FILE', message: `cannot read ${input.REDIS_TLS_CA_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
    }
  }
  if (issues.length) throw new ConfigError(issues);
}

export interface RedisNodeAddress { host: string; port: number }

/**
 * `REDIS_CLUSTER_NODES`: the seed nodes of a Redis Cluster as `host:port,host:port,…` (an IPv6
 * address in brackets, `[::1]:7000`). Seeds only: the client learns the rest of the cluster from
 * them. Throws naming the first bad entry.
 */
export function parseRedisClusterNodes(value: string): RedisNodeAddress[] {
  const entries = value.split(',').map((entry) => entry.trim());
  return entries.map((entry) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new Error(`entry ${JSON.stringify(entry)} is not host:port (expected host:port,host:port,… e.g. redis-0:6379,redis-1:6379)`);
    }
    const host = match[1].replace(/^\[(.*)\]$/, '$1');
    return { host, port };
  });
}

/**
 * Relative paths in the configuration are taken from where the user ran the command: npm runs
 * a package's scripts inside the package (`services/`) but sets `INIT_CWD` to the directory
 * `npm start` was typed in, so the default `.sesame` lands there (the repository root) rather than
 * in `services/`. Without npm, the process's working directory. Absolute paths stay as they are.
 */
export function resolveConfiguredPath(path: string, env: Record<string, string | undefined> = process.env): string {
  return resolve(env.INIT_CWD || process.cwd(), path);
}

/**
 * Where embedded mode keeps its data, as absolute paths: PGlite's database, the blobs, and the
 * generated JWT secret (used when SESAME_JWT_SECRET is unset). The generated vault master key
 * lives beside them (`shared/vault/keys.ts`).
 */
export function dataPaths(
  config: Pick<Config, 'SESAME_DATA_DIR' | 'SESAME_BLOB_DIR'>, env: Record<string, string | undefined> = process.env,
): { dataDir: string; dbDir: string; blobDir: string; jwtSecretFile: string } {
  const dataDir = resolveConfiguredPath(config.SESAME_DATA_DIR, env);
  return {
    dataDir,
    dbDir: join(dataDir, 'db'),
    blobDir: config.SESAME_BLOB_DIR ? resolveConfiguredPath(config.SESAME_BLOB_DIR, env) : join(dataDir, 'blobs'),
    jwtSecretFile: join(dataDir, 'jwt-secret'),
  };
}
