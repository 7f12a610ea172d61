import type { TypedApp } from '../shared/http/typed-app.js';
import { unauthorized } from '../shared/errors.js';
import { Type } from '@sinclair/typebox';
import { credentialFromHeaders } from '../shared/auth/authenticate.js';
import { caller } from '../shared/http/authentication.js';
import { errorResponses } from '../shared/http/schemas.js';
import type { ServiceContext } from '../shared/context.js';
import { serveEventStream } from './event-stream.js';
import { identityOf } from './realtime-auth.js';
import type { RealtimeNode } from './realtime-node.js';

/** Where the route sits; both apps mount `eventStreamRoute` under this prefix. */
export const EVENTS_PREFIX = '/api/v1';

/**
 * `GET /api/v1/events`, the one definition both processes register: the gateway always, and
 * the api when a gateway node shares its process. Expects the shared authentication
 * (`installAuthentication`) in the scope it is registered in.
 */
export function eventStreamRoute(node: RealtimeNode) {
  return async function events(app: TypedApp, _ctx: ServiceContext) {
    app.get('/events', {
      config: { scope: 'read' },
      // One long request: counted once by the rate limiter, not per event.
      schema: {
        tags: ['events'], summary: 'Server-Sent Events: your streams, resumable with Last-Event-ID',
        querystring: Type.Object({ lastEventId: Type.Optional(Type.String({ maxLength: 1_000_000 })) }, { additionalProperties: false }),
        response: errorResponses,
      },
    }, async (request, reply) => {
      const auth = caller(request);
      // The shared authentication accepted the header's credential; the stream keeps its ids and expiry.
      const credential = credentialFromHeaders(request.headers);
      if (!credential) throw unauthorized();
      const identity = await identityOf(node.ctx, auth, credential);
      await serveEventStream(request, reply, identity, node, request.query.lastEventId);
    });
  };
}
