import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticateCredential, credentialFromHeaders, type AuthContext } from '../auth/authenticate.js';
import type { ServiceContext } from '../context.js';
import { forbidden, unauthorized } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest { auth: AuthContext | null }
  interface FastifyContextConfig {
    /** Route needs no credential (health, login, challenge…). */
    public?: boolean;
  }
}

/**
 * Resolves the caller on every request. A bad credential is a 401 even on public routes:
 * silently treating it as anonymous would hide a misconfigured client.
 */
export function installAuthentication(app: FastifyInstance, ctx: ServiceContext) {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    const credential = credentialFromHeaders(request.headers);
    if (credential) {
      request.auth = await authenticateCredential(ctx.db, ctx.tokens, credential);
      if (!request.auth) throw unauthorized('The API key or access token is invalid, expired or revoked');
    } else if (!request.routeOptions.config?.public && request.routeOptions.url && !request.url.startsWith('/api/docs')) {
      throw unauthorized();
    }
  });
}

/** The authenticated caller; routes that are not public can rely on it. */
export function caller(request: FastifyRequest): AuthContext {
  if (!request.auth) throw unauthorized();
  return request.auth;
}

export function requireAdmin(request: FastifyRequest): AuthContext {
  const auth = caller(request);
  if (!auth.principal.is_admin) throw forbidden('This action requires an admin');
  return auth;
}

/** API keys carry scopes (`*`, `read`, `write`, `admin`); tokens act with the principal's rights. */
export function requireScope(request: FastifyRequest, scope: 'read' | 'write' | 'admin') {
  const auth = caller(request);
  const scopes = auth.apiKey?.scopes;
  if (!scopes || scopes.includes('*') || scopes.includes(scope) || (scope === 'read' && scopes.includes('write'))) return auth;
  throw forbidden(`This API key lacks the '${scope}' scope`);
}
