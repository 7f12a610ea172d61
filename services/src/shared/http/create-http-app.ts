import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import { parseTrustProxy } from '../config.js';
import type { ServiceContext } from '../context.js';
import { installProblemDetails, sendFrameworkError } from './problem-details.js';
import { installMetrics } from '../metrics.js';
import { lazyChildLogger } from './request-logger.js';
import { installValidators } from './validation.js';
import { API_SECURITY_HEADERS, PAGE_ONLY_HEADERS, responseClassWithHeaderBlock } from './security-headers.js';

/**
 * Whom `X-Forwarded-*` headers are believed from (`SESAME_TRUST_PROXY`), in this one place for
 * both processes. Off by default: any client can write those headers, and believing them would
 * let it pick its own address and escape per-address limits.
 */
function trustProxySetting(ctx: ServiceContext): boolean | string[] | ((address: string, hop: number) => boolean) {
  const setting = parseTrustProxy(ctx.config.SESAME_TRUST_PROXY) ?? false;
  // A hop count as fastify applies it (its types leave numbers out): trust the nearest n hops.
  return typeof setting === 'number' ? (_address, hop) => hop < setting : setting;
}

/** Path parameters are ids (at most 100 characters); longer ones are a 414 from the router. */
const MAX_PARAM_LENGTH = 200;

const REQUEST_ID_HEADER = 'x-request-id';

const SECURITY_HEADER_NAMES = API_SECURITY_HEADERS.map(([name]) => name);
const SECURITY_HEADER_VALUES = API_SECURITY_HEADERS.map(([, value]) => value);

/** The headers every response of the edge carries: the security set and the request's id. */
function setEdgeHeaders(request: FastifyRequest, reply: FastifyReply): void {
  for (let i = 0; i < SECURITY_HEADER_NAMES.length; i++) reply.header(SECURITY_HEADER_NAMES[i], SECURITY_HEADER_VALUES[i]);
  reply.header(REQUEST_ID_HEADER, request.id);
}

/**
 * The HTML pages' own hook (the console, the OpenAPI page): Cross-Origin-Opener-Policy,
 * Cross-Origin-Resource-Policy and X-Frame-Options besides the edge's set, which leaves them out
 * of API answers.
 */
export const addPageHeaders: onRequestHookHandler = (_request, reply, done) => {
  for (const [name, value] of PAGE_ONLY_HEADERS) reply.header(name, value);
  done();
};

/** The edge's responses render the security lines (set first on every response) as one block. */
const EdgeResponse = responseClassWithHeaderBlock(API_SECURITY_HEADERS);

/**
 * The OpenAPI page (`/api/docs`): swagger-ui's own scripts, styles and images and the spec, all
 * from this origin. No `upgrade-insecure-requests`: a self-hosted server often speaks plain HTTP,
 * and upgrading its own assets to https would break the page.
 */
export const DOCS_CONTENT_SECURITY_POLICY: Record<string, string[]> = {
  'default-src': ["'self'"], 'base-uri': ["'self'"], 'connect-src': ["'self'"], 'font-src': ["'self'", 'data:'], 'form-action': ["'self'"],
  'frame-ancestors': ["'none'"], 'img-src': ["'self'", 'data:'], 'object-src': ["'none'"], 'script-src': ["'self'"], 'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
};

export interface HttpAppOptions {
  /** Which process's edge this is; bound to every request log line (`edge`). */
  edge: 'api' | 'gateway';
}

/**
 * The HTTP edge both processes share: logger, request ids (`x-request-id` honoured on the way
 * in and echoed on the way out), proxy trust, router limits, body limit, security headers, schema
 * validators, and Problem Details for every error and unknown route. Each app adds its own routes on top.
 */
export function createHttpApp(ctx: ServiceContext, options: HttpAppOptions): FastifyInstance {
  const verbose = ctx.config.LOG_LEVEL === 'debug' || ctx.config.LOG_LEVEL === 'trace';
  // Typed as fastify's logger so the app is a plain FastifyInstance, whatever pino's generics.
  // Lazy: `request.log`, the child fastify makes per request, exists only once something logs.
  const loggerInstance: FastifyBaseLogger = lazyChildLogger(ctx.logger, { edge: options.edge });
  const app = Fastify({
    loggerInstance,
    bodyLimit: ctx.config.SESAME_BODY_LIMIT_BYTES,
    http: { ServerResponse: EdgeResponse },
    requestIdHeader: REQUEST_ID_HEADER,
    logController: new LogController({ disableRequestLogging: !verbose }),
    ajv: { customOptions: { removeAdditional: false } },
    trustProxy: trustProxySetting(ctx),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors raised by the router before any route runs (bad URL encoding, oversize params).
    frameworkErrors: (error, request, reply) => {
      setEdgeHeaders(request, reply);
      void sendFrameworkError(error, reply);
    },
  });
  // Security headers with a CSP for JSON (the OpenAPI page and the console set their own), and
  // the request id, set as the request arrives: errors and the not-found answer carry them too.
  app.addHook('onRequest', (request, reply, done) => {
    setEdgeHeaders(request, reply);
    done();
  });
  installValidators(app);
  installProblemDetails(app);
  installMetrics(app, options.edge, ctx.config.SESAME_METRICS === 'on');
  return app;
}
