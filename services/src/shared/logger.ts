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

function loggerOptions(level: string, name: string): LoggerOptions {
  return {
    level,
    name,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Request URLs may carry `?token=` for SSE; strip query strings from the logged url.
    serializers: {
      req: (req: { method: string; url?: string; id?: string }) => ({ method: req.method, url: req.url?.split('?')[0], id: req.id }),
    },
  };
}

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level, name), destination) : pino(loggerOptions(level, name));
}
export type { Logger };
