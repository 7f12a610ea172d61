import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServiceContext } from '../../shared/context.js';
import { caller } from '../../shared/http/authentication.js';
import { Data, errorResponses } from '../../shared/http/schemas.js';
import { principalToWire } from '../wire.js';
import { PrincipalSchema } from './auth/schemas.js';
import { ChannelSchema } from './channels/schemas.js';
import { channelsToWire } from './channels/service.js';

/** An agent's world view in one call: who it is, where it can talk. */
export async function manifestRoutes(app: FastifyInstance, ctx: ServiceContext) {
  app.get('/manifest', {
    schema: {
      tags: ['agents'], summary: 'Identity, workspace and channels of the caller',
      response: { 200: Data(Type.Object({
        agent: PrincipalSchema, workspace: Type.Object({ id: Type.String(), name: Type.String() }), channels: Type.Array(ChannelSchema),
        capabilities: Type.Array(Type.Unknown()), pendingWork: Type.Object({}, { additionalProperties: true }),
      })), ...errorResponses },
    },
  }, async (request) => {
    const me = caller(request).principal;
    const [workspace, channels] = await Promise.all([
      ctx.db.selectFrom('workspaces').select(['id', 'name']).where('id', '=', me.workspace_id).executeTakeFirstOrThrow(),
      ctx.db.selectFrom('channels').innerJoin('channel_members', 'channel_members.channel_id', 'channels.id').selectAll('channels')
        .where('channel_members.principal_id', '=', me.id).orderBy('channels.created_at').execute(),
    ]);
    return { data: { agent: principalToWire(me), workspace, channels: await channelsToWire(ctx, channels), capabilities: [], pendingWork: {} } };
  });
}
