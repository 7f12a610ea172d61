import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import type { ServiceContext } from '../shared/context.js';
import { SesameError } from '../shared/errors.js';
import { addPageHeaders } from '../shared/http/create-http-app.js';

/**
 * Paths that belong to the api, the gateway or the OpenAPI docs: the console's page fallback
 * never answers them, so an unknown API path stays a Problem Details 404.
 */
const RESERVED_PREFIXES = ['/api/', '/v1/', '/health'];

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.json': 'application/json; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
};

/** Vite names every file under assets/ by its content hash: a new build is a new URL. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface StaticFile { body: Buffer; type: string }

function readTree(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const url = `/${relative(dir, path).split(sep).join('/')}`;
    files.set(url, { body: readFileSync(path), type: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream' });
  }
  return files;
}

/** Where the console's realtime client connects: the configured public URL, or the gateway port on the page's own host. */
function gatewayHint(ctx: ServiceContext): { meta: string; connectSrc: string[] } {
  const publicUrl = ctx.config.SESAME_PUBLIC_WS_URL;
  if (publicUrl) return { meta: publicUrl, connectSrc: [new URL(publicUrl).origin.replace(/^http/, 'ws')] };
  const port = ctx.config.GATEWAY_PORT;
  return { meta: `:${port}`, connectSrc: [`ws://*:${port}`, `wss://*:${port}`] };
}

/**
 * CSP of the console page: its own scripts and styles only (Vite emits no inline script), REST
 * to this origin, WebSocket to the gateway; attachments are images from this origin.
 */
function consoleCsp(connectSrc: string[]): string {
  return [
    "default-src 'self'", "base-uri 'none'", `connect-src 'self' ${connectSrc.join(' ')}`, "font-src 'self'", "form-action 'self'",
    "frame-ancestors 'none'", "img-src 'self' data: blob:", "object-src 'none'", "script-src 'self'", "script-src-attr 'none'", "style-src 'self'",
  ].join('; ');
}

const escapeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The human console (services/console, built by `npm run build`) at `/`: its hashed assets with
 * long-lived caching, and `index.html` for any other page path a browser asks for (the app routes
 * on the client). Without a build, `/` says how to make one instead of failing.
 */
export async function installConsole(app: FastifyInstance, ctx: ServiceContext, dir: string): Promise<void> {
  const files = existsSync(join(dir, 'index.html')) ? readTree(dir) : new Map<string, StaticFile>();
  const index = files.get('/index.html');
  const gateway = gatewayHint(ctx);
  const csp = consoleCsp(gateway.connectSrc);
  const page = index
    ? Buffer.from(index.body.toString('utf8').replace('<meta name="sesame-gateway" content="" />', `<meta name="sesame-gateway" content="${escapeAttribute(gateway.meta)}" />`))
    : undefined;
  if (!page) ctx.logger.warn({ dir }, 'the console is not built: `/` answers 503 until `npm run build` has run');

  const sendPage = (reply: FastifyReply) => {
    if (!page) throw new SesameError('service-unavailable', 'The console is not built on this server: run `npm run build` (npm start does it) and restart. The API is available at /api/v1.');
    // Always revalidated: a new build changes which hashed assets the page loads.
    return reply.header('cache-control', 'no-cache').header('content-security-policy', csp).type('text/html; charset=utf-8').send(page);
  };
  const sendFile = (reply: FastifyReply, file: StaticFile, cacheControl: string) => reply.header('cache-control', cacheControl).type(file.type).send(file.body);

  const config = { public: true };
  // A page and its assets: the page headers the API's answers leave out (cross-origin isolation, X-Frame-Options).
  const onRequest = addPageHeaders;
  app.get('/', { config, onRequest, schema: { hide: true } }, async (_request, reply) => sendPage(reply));
  // The not-found handler answers (Problem Details), as for any unknown path.
  const notFound = (reply: FastifyReply) => { reply.callNotFound(); return reply; };
  app.get('/assets/*', { config, onRequest, schema: { hide: true } }, async (request, reply) => {
    const file = files.get(request.url.split('?')[0]);
    return file ? sendFile(reply, file, IMMUTABLE) : notFound(reply);
  });
  app.get('/*', { config, onRequest, schema: { hide: true } }, async (request: FastifyRequest, reply) => {
    const path = request.url.split('?')[0];
    if (RESERVED_PREFIXES.some((prefix) => path.startsWith(prefix) || `${path}/` === prefix)) return notFound(reply);
    const file = path !== '/index.html' ? files.get(path) : undefined;
    if (file) return sendFile(reply, file, 'no-cache');
    // Only a browser navigating gets the page; a script asking for JSON keeps its 404.
    if (!(request.headers.accept ?? '').includes('text/html')) return notFound(reply);
    return sendPage(reply);
  });
}
