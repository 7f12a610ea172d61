import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { parseTrustProxy } from '../config.js';
import type { ServiceContext } from '../context.js';
import { installProblemDetails, sendFrameworkError } from './problem-details.js';
import { installMetrics } from '../metrics.js';
import { lazyRequestLogger } from './request-logger.js';
import { installValidators } from './validation.js';

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

/**
 * Content-Security-Policy of every response but the OpenAPI page: the api sends JSON and stored
 * files, never pages, so nothing it serves may load or run anything, nor be framed (a stored
 * HTML file opened in a browser runs no script).
 */
const API_CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: { 'default-src': ["'none'"], 'base-uri': ["'none'"], 'form-action': ["'none'"], 'frame-ancestors': ["'none'"] },
} as const;

/**
 * The headers helmet sets (its defaults: HSTS, nosniff, frame and referrer policies…, with
 * `options`), computed once by running helmet's own middleware against a recorder: every
 * response then gets the same frozen set, instead of helmet being rebuilt per request.
 */
function securityHeaders(options: HelmetOptions): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader(name: string, value: unknown) { headers.set(name.toLowerCase(), String(value)); },
    removeHeader(name: string) { headers.delete(name.toLowerCase()); },
  };
  helmet(options)(Object.create(null) as IncomingMessage, recorder as unknown as ServerResponse, () => {});
  return Object.freeze([...headers]);
}

/**
 * Helmet's defaults less five headers that protect nothing here, each written on every response
 * (a header line costs the server about as much as a few hundred bytes of body):
 * `X-XSS-Protection` (it only turns off the XSS auditor browsers have removed),
 * `X-Download-Options` (Internet Explorer 8), `X-Permitted-Cross-Domain-Policies` (Flash and
 * Acrobat policy files), `Origin-Agent-Cluster` (a process-isolation hint for pages; nothing
 * the api serves may run or be framed) and `X-DNS-Prefetch-Control` (it governs the links of an
 * HTML page; the api serves none, and its CSP lets nothing load). HSTS, nosniff, frame, referrer,
 * opener, resource and content-security policies stay (docs/rest-contract.md).
 */
const API_SECURITY_HEADERS = securityHeaders({
  contentSecurityPolicy: API_CONTENT_SECURITY_POLICY,
  xXssProtection: false, xDownloadOptions: false, xPermittedCrossDomainPolicies: false, originAgentCluster: false, xDnsPrefetchControl: false,
});

/** The headers every response of the edge carries: the security set and the request's id. */
function setEdgeHeaders(request: FastifyRequest, reply: FastifyReply): void {
  for (const [name, value] of API_SECURITY_HEADERS) reply.header(name, value);
  reply.header(REQUEST_ID_HEADER, request.id);
}

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
  const loggerInstance: FastifyBaseLogger = ctx.logger.child({ edge: options.edge });
  const app = Fastify({
    loggerInstance,
    bodyLimit: ctx.config.SESAME_BODY_LIMIT_BYTES,
    requestIdHeader: REQUEST_ID_HEADER,
    logController: new LogController({ disableRequestLogging: !verbose }),
    // `request.log` makes its pino child (bound to the request id) only when something logs.
    childLoggerFactory: lazyRequestLogger,
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
