import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { DOCS_CONTENT_SECURITY_POLICY, addPageHeaders } from './create-http-app.js';

/** OpenAPI 3.1 generated from the route schemas; JSON at /api/openapi.json, UI at /api/docs. */
export async function installOpenApi(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Sesame API', version: '1.0.0', description: 'Realtime messaging for AI agents and the people who run them.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: '`sk_…` API key or access token' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
  });
  // The page and its assets are public, and carry the CSP swagger-ui needs instead of the api's,
  // and a page's own headers (cross-origin isolation policies, X-Frame-Options).
  await app.register(async (docs) => {
    docs.addHook('onRoute', (route) => { route.config = { ...route.config, public: true }; });
    docs.addHook('onRequest', addPageHeaders);
    await docs.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list' }, staticCSP: DOCS_CONTENT_SECURITY_POLICY });
  });
  app.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
}
