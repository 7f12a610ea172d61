import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { authenticateApiKey, authenticateCredential, credentialFromHeaders, CredentialCache, refreshAhead, type AuthContext } from '../auth/authenticate.js';
import { sha256 } from '../auth/secrets.js';
import { watchCredentialChanges } from '../auth/revocations.js';
import { grants, type Scope } from '../auth/scopes.js';
import type { ServiceContext } from '../context.js';
import { forbidden, unauthorized } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest { auth: AuthContext | null }
  interface FastifyContextConfig {
    /** Route needs no credential (health, login, challenge…). */
    public?: boolean;
    /**
     * What the route needs: an API key must hold this scope (`shared/auth/scopes.ts`); an access
     * token acts with its principal's rights. `admin` also needs an admin principal.
     */
    scope?: Scope;
  }
}

/**
 * Resolves the caller on every request and enforces the route's declared access. A bad
 * credential is a 401 even on public routes: silently treating it as anonymous would hide a
 * misconfigured client. Every route registered after this declares `public: true` or a `scope`
 * in its `config`; one that declares neither stops the app at start (`ready()` fails naming it).
 */
export function installAuthentication(app: FastifyInstance, ctx: ServiceContext) {
  app.decorateRequest('auth', null);
  // One cache per app (= per process in production), emptied by revocations and principal
  // changes from any process, and entirely when the bus reconnects (it may have missed some).
  const credentials = new CredentialCache();
  const stopWatching = watchCredentialChanges(ctx.bus, (change) => { credentials.forget(change); });
  const stopReconnectWatch = ctx.bus.onReconnect(() => { credentials.clear(); });
  app.addHook('onClose', async () => { stopWatching(); stopReconnectWatch(); });
  // Synchronous when it can be (no credential, or a cached API key): no promise per request.
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      const { credential, keyHash } = presentedCredential(request);
      const now = Date.now();
      const cached = keyHash ? credentials.get(keyHash, now) : undefined;
      if (keyHash && cached) refreshAhead(ctx.db, keyHash, credentials, now);
      if (!credential || cached) {
        request.auth = cached ?? null;
        authorize(request);
        done();
        return;
      }
      // A key missed the cache: read it by the hash made above (not hashed and looked up again).
      const resolved = keyHash ? authenticateApiKey(ctx.db, keyHash, credentials) : authenticateCredential(ctx.db, ctx.tokens, credential, credentials);
      resolved.then((auth) => {
        if (!auth) throw unauthorized('The API key or access token is invalid, expired or revoked');
        request.auth = auth;
        authorize(request);
      }).then(() => { done(); }, (err: unknown) => { done(err instanceof Error ? err : new Error(String(err))); });
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  });

  // Routes are collected as they register and checked once every plugin has added its hooks
  // (a plugin may mark its routes public from a child context, after this hook has seen them).
  const routes: RouteOptions[] = [];
  app.addHook('onRoute', (route) => { routes.push(route); });
  app.addHook('onReady', async () => {
    const undeclared = routes.filter((route) => !declaresAccess(route)).map((route) => `${String(route.method)} ${route.url}`);
    if (undeclared.length) throw new Error(`routes without config.scope or config.public: ${[...new Set(undeclared)].join(', ')}`);
  });
}

/** What a request presents: its credential, and an API key's hash (what the cache is keyed by). */
interface PresentedCredential { credential: string | null; keyHash: string | undefined }

/** The credential headers a connection last sent, and what they present. */
interface SeenCredential extends PresentedCredential { apiKeyHeader: unknown; authorization: unknown }

/**
 * A keep-alive client sends the same credential header on every request of its connection: the
 * connection remembers the last one it carried with its parsed credential and key hash, so a
 * request repeating it skips parsing and hashing (sha256 of an API key, per request otherwise).
 * Only the hash is reused: the cache lookup (revocation, expiry) runs on every request. Held no
 * longer than the connection that carried it.
 */
const seenOnConnection = new WeakMap<object, SeenCredential>();
function presentedCredential(request: FastifyRequest): PresentedCredential {
  const { headers } = request;
  const apiKeyHeader = headers['x-api-key'];
  const authorization = headers.authorization;
  const connection = request.raw.socket as object | null;
  const seen = connection ? seenOnConnection.get(connection) : undefined;
  if (seen && seen.apiKeyHeader === apiKeyHeader && seen.authorization === authorization) return seen;
  const credential = credentialFromHeaders(headers);
  const keyHash = credential?.startsWith('sk_') ? sha256(credential) : undefined;
  // Only headers that present a key are remembered (anonymous and token requests gain nothing).
  if (connection && keyHash) seenOnConnection.set(connection, { apiKeyHeader, authorization, credential, keyHash });
  return { credential, keyHash };
}

/** Enforces the route's declared access on an authenticated (or anonymous) request. */
function authorize(request: FastifyRequest): void {
  // No route matched: the not-found handler answers, whoever asks.
  if (request.is404) return;
  // `routeOptions` is a getter building an object: read once.
  const { public: isPublic, scope } = request.routeOptions.config;
  if (isPublic) return;
  if (!request.auth) throw unauthorized();
  // Unreachable once the app is ready (see below); fail closed all the same.
  if (!scope) throw forbidden('This route declares no access scope');
  assertScope(request.auth, scope);
}

/** Whether a route says who may call it: `public: true`, or the scope it needs. */
function declaresAccess(route: Pick<RouteOptions, 'config'>): boolean {
  return route.config?.public === true || route.config?.scope !== undefined;
}

/** The authenticated caller; routes that are not public can rely on it. */
export function caller(request: FastifyRequest): AuthContext {
  if (!request.auth) throw unauthorized();
  return request.auth;
}

/**
 * Whether the caller may use its principal's admin rights: an admin principal, through an
 * access token or an API key holding the `admin` scope (a `read` key of an admin reads, no more).
 */
export function actsAsAdmin(auth: AuthContext): boolean {
  return auth.principal.is_admin && (!auth.apiKey || keyGrants(auth.apiKey.scopes, 'admin'));
}

export function requireAdmin(request: FastifyRequest): AuthContext {
  const auth = caller(request);
  assertScope(auth, 'admin');
  return auth;
}

/**
 * `grants(scopes, scope)`, remembered per held-scopes array: a cached credential keeps its
 * array, so a busy key's check is a lookup instead of expanding its scopes on every request.
 */
const scopeChecks = new WeakMap<readonly string[], Map<Scope, boolean>>();
function keyGrants(held: readonly string[], scope: Scope): boolean {
  let checks = scopeChecks.get(held);
  if (!checks) scopeChecks.set(held, checks = new Map<Scope, boolean>());
  let granted = checks.get(scope);
  if (granted === undefined) checks.set(scope, granted = grants(held, scope));
  return granted;
}

/** API keys are limited to their scopes; access tokens act with the principal's rights. */
function assertScope(auth: AuthContext, scope: Scope) {
  if (auth.apiKey && !keyGrants(auth.apiKey.scopes, scope)) throw forbidden(`This API key lacks the '${scope}' scope`);
  if (scope === 'admin' && !auth.principal.is_admin) throw forbidden('This action requires an admin');
}
