import { Type } from '@sinclair/typebox';
import type { PresenceReader } from '../../shared/presence/presence-reader.js';
import type { ServiceContext } from '../../shared/context.js';
import { unprocessable } from '../../shared/errors.js';
import { caller } from '../../shared/http/authentication.js';
import { Data, errorResponses } from '../../shared/http/schemas.js';
import type { TypedApp } from '../../shared/http/typed-app.js';

const MAX_IDS = 100;
const Status = Type.Union([Type.Literal('online'), Type.Literal('away'), Type.Literal('offline')]);

/**
 * `GET /api/v1/presence?principalIds=a,b`: who is online now, as a starting point for the live
 * `presence` events. Only principals of the caller's workspace.
 */
export function presenceRoute(reader: PresenceReader) {
  return async function presence(app: TypedApp, ctx: ServiceContext) {
    app.get('/presence', {
      config: { scope: 'read' },
      schema: {
        tags: ['events'], summary: 'Current presence of principals of your workspace',
        querystring: Type.Object({ principalIds: Type.String({ minLength: 1, maxLength: 100 * 64, pattern: '^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$' }) }, { additionalProperties: false }),
        response: { 200: Data(Type.Array(Type.Object({ principalId: Type.String(), status: Status }))), ...errorResponses },
      },
    }, async (request) => {
      const me = caller(request).principal;
      const ids = [...new Set(request.query.principalIds.split(','))];
      if (ids.length > MAX_IDS) throw unprocessable(`principalIds: at most ${MAX_IDS} at a time`);
      const known = await ctx.db.selectFrom('principals').select('id').where('workspace_id', '=', me.workspace_id).where('id', 'in', ids).execute();
      const inWorkspace = new Set(known.map((r) => r.id));
      const unknown = ids.find((id) => !inWorkspace.has(id));
      if (unknown) throw unprocessable(`principalIds: unknown principal ${unknown}`);
      const statuses = await reader.statuses(ids);
      return { data: ids.map((principalId) => ({ principalId, status: statuses[principalId] ?? 'offline' })) };
    });
  };
}
