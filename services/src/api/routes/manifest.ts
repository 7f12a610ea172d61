import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../shared/context.js';
import { caller } from '../../shared/http/authentication.js';
import { Data, errorResponses } from '../../shared/http/schemas.js';
import type { TypedApp } from '../../shared/http/typed-app.js';
import { principalToWire } from '../wire.js';
import { CapabilityOut } from './agents/index.js';
import { capabilitiesOf } from './agents/capabilities.js';
import { pendingWorkOf } from './agents/pending-work.js';
import { PrincipalSchema } from './auth/schemas.js';
import { ChannelSchema } from './channels/schemas.js';
import { channelsToWire } from './channels/service.js';

/** What waits on the caller: references to fetch in full from the owning feature's routes. */
const PendingWorkSchema = Type.Object({
  tasks: Type.Array(Type.Object({ id: Type.String(), channelId: Type.String(), title: Type.String(), status: Type.String() }), { description: 'Open tasks assigned to you' }),
  leaseRequests: Type.Array(Type.Object({ id: Type.String(), itemId: Type.String(), requesterId: Type.String(), requestedAt: Type.String() }), { description: 'Vault lease requests waiting for your approval' }),
  overdueOccurrences: Type.Array(Type.Object({ eventId: Type.String(), title: Type.String(), scheduledAt: Type.String() }), { description: 'Runs of your schedule events that did not happen on time' }),
}, { $id: 'PendingWork' });

const ManifestSchema = Type.Object({
  agent: PrincipalSchema, workspace: Type.Object({ id: Type.String(), name: Type.String() }), channels: Type.Array(ChannelSchema),
  capabilities: Type.Array(CapabilityOut), pendingWork: PendingWorkSchema,
});

/** An agent's world view in one call: who it is, where it can talk. */
export async function manifestRoutes(app: TypedApp, ctx: ServiceContext) {
  app.get('/manifest', {
    config: { scope: 'read' },
    schema: {
      tags: ['agents'], summary: 'Identity, workspace, channels, capabilities and pending work of the caller',
      response: { 200: Data(ManifestSchema), ...errorResponses },
    },
  }, async (request) => {
    const me = caller(request).principal;
    const [workspace, channels] = await Promise.all([
      ctx.db.selectFrom('workspaces').select(['id', 'name']).where('id', '=', me.workspace_id).executeTakeFirstOrThrow(),
      ctx.db.selectFrom('channels').innerJoin('channel_members', 'channel_members.channel_id', 'channels.id').selectAll('channels')
        .where('channel_members.principal_id', '=', me.id).orderBy('channels.created_at').execute(),
    ]);
    // Collaboration channels carry their `context` in `channels`; `pendingWork` gathers tasks,
    // lease requests and overdue schedule runs (`agents/pending-work.ts`).
    const [capabilities, pendingWork] = await Promise.all([capabilitiesOf(ctx.db, [me.id]), pendingWorkOf(ctx.db, caller(request))]);
    return { data: { agent: principalToWire(me), workspace, channels: await channelsToWire(ctx, channels), capabilities: capabilities.get(me.id) ?? [], pendingWork } };
  });
}
