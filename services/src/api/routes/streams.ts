import { isInboxStream, inboxStream } from '@sesamespace/sdk/protocol';
import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../shared/context.js';
import { notFound } from '../../shared/errors.js';
import { eventJson, readEventTexts } from '../../shared/events.js';
import { caller } from '../../shared/http/authentication.js';
import { Page, SafeInteger, errorResponses, pageOf } from '../../shared/http/schemas.js';
import type { TypedApp } from '../../shared/http/typed-app.js';
import { channelForMember } from './channels/access.js';

const EventSchema = Type.Object({ type: Type.String(), stream: Type.String(), seq: Type.Integer(), data: Type.Unknown(), at: Type.String() });

/** REST replay of one stream: how clients fill a gap they noticed. */
export async function streamRoutes(app: TypedApp, ctx: ServiceContext) {
  app.get('/streams/:stream/events', {
    config: { scope: 'read' },
    schema: {
      tags: ['events'], summary: 'Events of a stream after a seq',
      params: Type.Object({ stream: Type.String({ minLength: 1, maxLength: 120, pattern: '^[A-Za-z0-9_:-]+$' }) }, { additionalProperties: false }),
      querystring: Type.Object({ after: Type.Optional(SafeInteger()), limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 1000, default: 200 })) }, { additionalProperties: false }),
      response: { 200: Page(EventSchema), ...errorResponses },
    },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const { stream } = request.params;
    const { after = 0, limit = 200 } = request.query;
    if (isInboxStream(stream)) {
      if (stream !== inboxStream(me.id)) throw notFound('Stream');
    } else {
      await channelForMember(ctx.db, me, stream);
    }
    const events = await readEventTexts(ctx.db, stream, after, limit + 1);
    const { page, pagination } = pageOf(events, limit, (last) => String(last.seq));
    // The page is written around the stored payload texts (what the schema describes), not
    // parsed and serialised again per event.
    const streamJson = JSON.stringify(stream);
    const body = `{"data":[${page.map((event) => eventJson(event, streamJson)).join(',')}],"pagination":${JSON.stringify(pagination)}}`;
    // A string with a JSON content type goes out as it is (the schema's serializer takes objects).
    return reply.type('application/json; charset=utf-8').send(body as never);
  });
}
