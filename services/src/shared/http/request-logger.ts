import type { FastifyBaseLogger, FastifyLogFn } from 'fastify';
import pino, { type Bindings, type ChildLoggerOptions } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const { serializersSym } = pino.symbols;

/**
 * A pino child logger made only when something logs. Fastify gives every request a child
 * logger (`request.log`, bound to the request id), while most requests never log a line
 * (request logging is off below `debug`): a pino child serializes its bindings when made. Here
 * the child is created with the same bindings and options on the first call, so a line logged
 * through it is the one pino's child would have written. Its own children are lazy too: the
 * edge's app logger is one of these, so fastify's default child factory (`logger.child()`)
 * makes each request's logger lazily, without the check fastify runs per request on the loggers
 * a custom `childLoggerFactory` returns.
 */
class LazyLogger {
  #child: FastifyBaseLogger | undefined;
  declare fatal: FastifyLogFn;
  declare error: FastifyLogFn;
  declare warn: FastifyLogFn;
  declare info: FastifyLogFn;
  declare debug: FastifyLogFn;
  declare trace: FastifyLogFn;
  declare silent: FastifyLogFn;

  constructor(private readonly parent: FastifyBaseLogger, private readonly bindings: Bindings, private readonly options: ChildLoggerOptions) {}

  /** The pino child logger, created at first use. */
  logger(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.options);
    return this.#child;
  }

  get level(): string {
    return this.#child ? this.#child.level : this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger().level = level;
  }

  /**
   * The serializers the child has (fastify merges them under its own `req`/`res`/`err` ones, and
   * the process logger's `req` serializer, which strips query strings, must keep winning).
   */
  get [serializersSym](): unknown {
    return (this.logger() as unknown as Record<symbol, unknown>)[serializersSym];
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    // A copy: fastify reuses the options object it passes when making the app's logger.
    return new LazyLogger(this.logger(), bindings, { ...options });
  }
}

// One shared function per level on the prototype (no closure per request).
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly Level[]) {
  LazyLogger.prototype[level] = function (this: LazyLogger, ...args: Parameters<FastifyLogFn>) {
    this.logger()[level](...args);
  };
}

/** `logger.child(bindings)`, made at first use, and whose own children are made likewise. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings): FastifyBaseLogger {
  return new LazyLogger(logger, bindings, {});
}
