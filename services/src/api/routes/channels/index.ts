import { EventType } from '@sesamespace/sdk/protocol';
import type { ServiceContext } from '../../../shared/context.js';
import type { Channel } from '../../../shared/db/schema.js';
import { conflict, forbidden, notFound } from '../../../shared/errors.js';
import { withEvents } from '../../../shared/events.js';
import { actsAsAdmin, caller } from '../../../shared/http/authentication.js';
import { Data, IdParams, NoContent, Page, decodeCursor, encodeCursor, errorResponses, pageOf } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { canManage, channelForMember } from './access.js';
import {
  AddMemberBody, ChannelSchema, CreateChannelBody, ListChannelsQuery, MemberParams, MemberSchema, UpdateChannelBody,
} from './schemas.js';
import { addMember, assertPrincipalsInWorkspace, channelsToWire, createChannel, removeMember } from './service.js';

export async function channelRoutes(app: TypedApp, ctx: ServiceContext) {
  const one = async (channel: Channel) => (await channelsToWire(ctx, [channel]))[0];

  app.post('/channels', {
    config: { scope: 'write' },
    schema: { tags: ['channels'], summary: 'Create a channel (a DM is returned if it exists)', body: CreateChannelBody, response: { 200: Data(ChannelSchema), 201: Data(ChannelSchema), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const { channel, created } = await createChannel(ctx, me, request.body);
    reply.status(created ? 201 : 200);
    return { data: await one(channel) };
  });

  app.get('/channels', {
    config: { scope: 'read' },
    schema: { tags: ['channels'], summary: 'The caller\'s channels', querystring: ListChannelsQuery, response: { 200: Page(ChannelSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { limit = 50, cursor } = request.query;
    let query = ctx.db.selectFrom('channels').innerJoin('channel_members', 'channel_members.channel_id', 'channels.id')
      .selectAll('channels').where('channel_members.principal_id', '=', me.id).orderBy('channels.id').limit(limit + 1);
    if (cursor) query = query.where('channels.id', '>', decodeCursor<{ id: string }>(cursor, { id: 'string' }).id);
    const rows = await query.execute();
    const { page, pagination } = pageOf(rows, limit, (last) => encodeCursor({ id: last.id }));
    return { data: await channelsToWire(ctx, page), pagination };
  });

  app.get('/channels/:id', {
    config: { scope: 'read' },
    schema: { tags: ['channels'], summary: 'One channel', params: IdParams, response: { 200: Data(ChannelSchema), ...errorResponses } },
  }, async (request) => {
    const { channel } = await channelForMember(ctx.db, caller(request).principal, request.params.id);
    return { data: await one(channel) };
  });

  app.patch('/channels/:id', {
    config: { scope: 'write' },
    schema: { tags: ['channels'], summary: 'Rename, describe, set context', params: IdParams, body: UpdateChannelBody, response: { 200: Data(ChannelSchema), ...errorResponses } },
  }, async (request) => {
    const auth = caller(request);
    const me = auth.principal;
    const { channel, role } = await channelForMember(ctx.db, me, request.params.id);
    if (channel.kind === 'dm') throw forbidden('DMs cannot be renamed');
    if (!canManage(role, auth)) throw forbidden('Only channel owners and admins can change the channel');
    const patch = request.body;
    const updated = await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
      const row = await trx.updateTable('channels').set(patch).where('id', '=', channel.id).returningAll().executeTakeFirstOrThrow();
      await events.append(channel.id, EventType.ChannelUpdated, { channelId: channel.id, ...patch, updatedBy: me.id });
      return row;
    });
    return { data: await one(updated) };
  });

  app.get('/channels/:id/members', {
    config: { scope: 'read' },
    schema: { tags: ['channels'], summary: 'Members and roles', params: IdParams, response: { 200: Page(MemberSchema), ...errorResponses } },
  }, async (request) => {
    const { channel } = await channelForMember(ctx.db, caller(request).principal, request.params.id);
    const rows = await ctx.db.selectFrom('channel_members').innerJoin('principals', 'principals.id', 'channel_members.principal_id')
      .select(['channel_members.principal_id', 'channel_members.role', 'channel_members.joined_at', 'principals.handle', 'principals.display_name', 'principals.kind'])
      .where('channel_members.channel_id', '=', channel.id).orderBy('channel_members.joined_at').execute();
    return {
      data: rows.map((r) => ({ principalId: r.principal_id, role: r.role, joinedAt: new Date(r.joined_at).toISOString(), handle: r.handle, displayName: r.display_name, kind: r.kind })),
      pagination: { hasMore: false, nextCursor: null },
    };
  });

  app.post('/channels/:id/members', {
    config: { scope: 'write' },
    schema: { tags: ['channels'], summary: 'Add a member', params: IdParams, body: AddMemberBody, response: { 201: Data(MemberSchema), ...errorResponses } },
  }, async (request, reply) => {
    const auth = caller(request);
    const me = auth.principal;
    const { channel, role } = await channelForMember(ctx.db, me, request.params.id);
    if (channel.kind === 'dm') throw forbidden('DMs have exactly two members');
    if (!canManage(role, auth) && channel.kind !== 'collaboration' && channel.kind !== 'group') throw forbidden('Only channel owners and admins can add members');
    const body = request.body;
    if (body.role && body.role !== 'member' && !canManage(role, auth)) throw forbidden('Only owners and admins grant roles');
    const principal = await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
      await assertPrincipalsInWorkspace(trx, me.workspace_id, [body.principalId]).catch(() => { throw notFound('Principal'); });
      const existing = await trx.selectFrom('channel_members').select('role').where('channel_id', '=', channel.id).where('principal_id', '=', body.principalId).executeTakeFirst();
      if (existing) throw conflict('Already a member');
      await addMember(trx, events, channel, body.principalId, body.role ?? 'member', me.id);
      return trx.selectFrom('principals').selectAll().where('id', '=', body.principalId).executeTakeFirstOrThrow();
    });
    reply.status(201);
    return { data: { principalId: principal.id, role: body.role ?? 'member', joinedAt: new Date().toISOString(), handle: principal.handle, displayName: principal.display_name, kind: principal.kind } };
  });

  app.delete('/channels/:id/members/:principalId', {
    config: { scope: 'write' },
    schema: { tags: ['channels'], summary: 'Remove a member (or leave)', params: MemberParams, response: { 204: NoContent, ...errorResponses } },
  }, async (request, reply) => {
    const auth = caller(request);
    const me = auth.principal;
    const { id, principalId } = request.params;
    const { channel, role } = await channelForMember(ctx.db, me, id);
    if (channel.kind === 'dm') throw forbidden('DMs have exactly two members');
    if (principalId !== me.id) {
      if (!canManage(role, auth)) throw forbidden('Only channel owners and admins can remove others');
      // A channel owner must not be able to shut a workspace admin out of a channel.
      const target = await ctx.db.selectFrom('principals').select('is_admin').where('id', '=', principalId).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
      if (target?.is_admin && !actsAsAdmin(auth)) throw forbidden('Only a workspace admin (or the admin themself) can remove a workspace admin from a channel');
    }
    const removed = await withEvents(ctx.db, me.workspace_id, ctx.publish, (trx, events) => removeMember(trx, events, channel, principalId, me.id));
    if (!removed) throw notFound('Member');
    return reply.status(204).send(null);
  });
}
