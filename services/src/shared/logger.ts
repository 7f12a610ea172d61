import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * Paths pino censors wherever they appear in a log line. Secrets never reach the logs:
 * credentials travel in these headers and fields only.
 */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey', '*.password', '*.token', '*.accessToken', '*.refreshToken', '*.secret', '*.privateKey', '*.signature',
  'apiKey', 'password', 'token', 'accessToken', 'refreshToken', 'secret', 'privateKey',
];

/**
 * Fields of database errors that quote a statement's input: PGlite puts the statement and its
 * parameters on its errors (`query`, `params`), Postgres' `detail` and `where` can quote values
 * (a key, a fragment of a JSON parameter). A parameter can be a secret's hash or message content.
 */
const STATEMENT_INPUT_FIELDS = new Set(['query', 'params', 'queryOptions', 'detail', 'where', 'internalQuery']);

/** pino's error serializer, less the fields that can quote a statement's input. */
function serializeError(err: unknown): unknown {
  const serialized = pino.stdSerializers.err(err as Error) as unknown;
  // Not error-like: pino hands the value back as it is, and the caller's object is not ours to change.
  if (serialized === err || typeof serialized !== 'object' || serialized === null) return serialized;
  return Object.fromEntries(Object.entries(serialized).filter(([field]) => !STATEMENT_INPUT_FIELDS.has(field)));
}

function loggerOptions(level: string, name: string): LoggerOptions {
  return {
    level,
    name,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Request URLs may carry `?token=` for SSE; strip query strings from the logged url.
    serializers: {
      req: (req: { method: string; url?: string; id?: string }) => ({ method: req.method, url: req.url?.split('?')[0], id: req.id }),
      err: serializeError,
    },
  };
}

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level, name), destination) : pino(loggerOptions(level, name));
}
export type { Logger };
