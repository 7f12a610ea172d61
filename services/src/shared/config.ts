import { z } from 'zod';

/**
 * Every environment variable Sesame reads, validated once at start. A bad value stops the
 * process with a message naming the variable. docs/configuration.md mirrors this file.
 */
const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const urlWithProtocols = (...protocols: string[]) =>
  z.string().url().refine((v) => protocols.some((p) => v.startsWith(p)), `must start with ${protocols.join(' or ')}`);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port(13531),
  GATEWAY_PORT: port(13532),
  SESAME_DATA_DIR: z.string().min(1).default('.sesame'),
  DATABASE_URL: urlWithProtocols('postgres://', 'postgresql://').optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  REDIS_URL: urlWithProtocols('redis://', 'rediss://').optional(),
  SESAME_BOOTSTRAP_API_KEY: z.string().regex(/^sk_[A-Za-z0-9_-]{16,}$/, 'must look like sk_ followed by at least 16 url-safe characters').optional(),
  SESAME_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESAME_PUBLIC_API_URL: z.string().url().optional(),
  SESAME_PUBLIC_WS_URL: z.string().url().optional(),
  SESAME_ALLOW_SIGNUP: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  SESAME_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(100),
  SESAME_AUTH_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  SESAME_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  SESAME_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).default(900),
  SESAME_BLOB_DIR: z.string().min(1).optional(),
  SESAME_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1).default(25 * 1024 * 1024),
  SESAME_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
  SESAME_SEND_BUFFER_BYTES: z.coerce.number().int().min(1024).default(4 * 1024 * 1024),
  SESAME_EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  SESAME_HEAD_POLL_INTERVAL_MS: z.coerce.number().int().min(100).default(1_000),
  SESAME_PRESENCE_TTL_MS: z.coerce.number().int().min(1_000).default(15_000),
  SESAME_REPLAY_BATCH_SIZE: z.coerce.number().int().min(10).max(10_000).default(1_000),
  SESAME_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof schema>>;

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse and freeze configuration. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => ({ variable: String(i.path[0]), message: i.message })));
  }
  return Object.freeze(result.data);
}
