import type { FastifyReply } from 'fastify';
import type { ServiceContext } from '../../../../shared/context.js';
import { badRequest, forbidden, notFound } from '../../../../shared/errors.js';
import { caller } from '../../../../shared/http/authentication.js';
import { Data, IdParams, Page, decodeCursor, encodeCursor, errorResponses } from '../../../../shared/http/schemas.js';
import type { TypedApp } from '../../../../shared/http/typed-app.js';
import { canManage, channelForMember } from '../../channels/access.js';
import { publicBaseUrl, withFreshDownloadUrls } from '../../drive/files.js';
import type { Principal } from '../../../../shared/db/schema.js';
import type { SenderInfo } from '../../../wire.js';
import { EditMessageBody, HistoryQuery, MessageParams, MessageSchema, SendMessageBody } from './schemas.js';
import { GroupCommit, type SendOutcome } from './group-commit.js';
import { EditGroupCommit, type EditInput } from './edit-commit.js';
import { metrics } from '../../../../shared/metrics.js';
import { sendMessage, toWire, updateMessage, type SendInput } from './service.js';

/** What fastify sets for a JSON reply it serialises. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Replies `{ data: message }` around the message's JSON made beforehand (by a group commit):
 * the bytes the route's serialiser would write (the schema's keys in the same order, each value
 * as `JSON.stringify` prints it); a string with a JSON content type is sent as it is.
 */
function replyWithData(reply: FastifyReply, messageJson: string): FastifyReply {
  return reply.header('content-type', JSON_CONTENT_TYPE).send(`{"data":${messageJson}}`);
}

export async function messageRoutes(app: TypedApp, ctx: ServiceContext) {
  // Sends without attachments are group-committed per channel; a send the batch leaves out (or
  // one with attachments, which resolves files first) takes the one-by-one path.
  const sendAlone = async (sender: Principal, channelId: string, input: SendInput, baseUrl: () => string) => {
    const { channel } = await channelForMember(ctx.db, sender, channelId);
    return sendMessage(ctx, sender, channel.id, input, baseUrl());
  };
  const groupCommit = new GroupCommit(ctx, sendAlone, (size) => { metrics.messageBatch.observe(size); });

  async function loadMessage({ id, messageId }: { id: string; messageId: string }, principal: Parameters<typeof channelForMember>[1]) {
    const { channel, role } = await channelForMember(ctx.db, principal, id);
    // The message and who sent it, in one query.
    const row = await ctx.db.selectFrom('messages').innerJoin('principals', 'principals.id', 'messages.sender_id')
      .selectAll('messages').select(['principals.handle', 'principals.display_name', 'principals.kind as sender_kind'])
      .where('messages.id', '=', messageId).where('messages.channel_id', '=', channel.id).executeTakeFirst();
    if (!row) throw notFound('Message');
    const { handle, display_name, sender_kind, ...message } = row;
    const sender: SenderInfo = { handle, display_name, kind: sender_kind };
    return { channel, role, message, sender };
  }

  // Edits are group-committed per workspace; an edit the batch cannot vouch for (or one whose
  // batch failed) takes the one-by-one path, which answers it as it always did.
  const editAlone = async (me: Principal, channelId: string, messageId: string, change: EditInput) => {
    const { message, sender } = await loadMessage({ id: channelId, messageId }, me);
    if (message.sender_id !== me.id) throw forbidden('Only the sender can edit a message');
    if (message.deleted_at) throw notFound('Message');
    return { message: await updateMessage(ctx, me, message, sender, change) };
  };
  const editCommit = new EditGroupCommit(ctx, editAlone);

  app.post('/channels/:id/messages', {
    config: { scope: 'write' },
    schema: { tags: ['messages'], summary: 'Send a message (idempotent by clientGeneratedId)', params: IdParams, body: SendMessageBody, response: { 200: Data(MessageSchema), 201: Data(MessageSchema), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const input = request.body;
    const started = performance.now();
    let outcome: SendOutcome;
    if (input.attachmentIds?.length || input.kind === 'attachment') {
      const { channel } = await channelForMember(ctx.db, me, request.params.id);
      outcome = await sendMessage(ctx, me, channel.id, input, publicBaseUrl(ctx, request));
    } else {
      // The base URL (a getsockname per call without SESAME_PUBLIC_URL) only if the lone path needs it.
      outcome = await groupCommit.send(me, request.params.id, input, () => publicBaseUrl(ctx, request));
    }
    metrics.messageSend.observe((performance.now() - started) / 1000);
    const { message, created, json } = outcome;
    reply.status(created ? 201 : 200);
    if (json !== undefined) return replyWithData(reply, json);
    return { data: message };
  });

  app.get('/channels/:id/messages', {
    config: { scope: 'read' },
    schema: { tags: ['messages'], summary: 'History by cursor, ascending seq within a page', params: IdParams, querystring: HistoryQuery, response: { 200: Page(MessageSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { channel } = await channelForMember(ctx.db, me, request.params.id);
    const q = request.query;
    if (q.before !== undefined && q.after !== undefined) throw badRequest('querystring: pass either before or after, not both');
    const limit = q.limit ?? 50;
    let direction = q.direction ?? (q.after !== undefined ? 'after' : 'before');
    let pivot: number | undefined = q.after ?? q.before;
    if (q.cursor) {
      const decoded = decodeCursor<{ seq: number; dir: string }>(q.cursor, { seq: 'number', dir: 'string' });
      if (decoded.dir !== 'before' && decoded.dir !== 'after') throw badRequest('cursor: is not a valid cursor');
      pivot = decoded.seq;
      direction = decoded.dir;
    }
    let query = ctx.db.selectFrom('messages').innerJoin('principals', 'principals.id', 'messages.sender_id')
      .selectAll('messages').select(['principals.handle', 'principals.display_name', 'principals.kind as sender_kind'])
      .where('messages.channel_id', '=', channel.id).limit(limit + 1);
    if (direction === 'after') {
      query = query.where('messages.seq', '>', pivot ?? 0).orderBy('messages.seq', 'asc');
    } else {
      if (pivot !== undefined) query = query.where('messages.seq', '<', pivot);
      query = query.orderBy('messages.seq', 'desc');
    }
    const rows = await query.execute();
    const hasMore = rows.length > limit;
    const page = rows.slice(0, limit);
    if (direction === 'before') page.reverse();
    const edge = direction === 'before' ? page[0] : page.at(-1);
    const baseUrl = publicBaseUrl(ctx, request);
    return {
      data: await Promise.all(page.map((r) => withFreshDownloadUrls(ctx, baseUrl, toWire(r, { handle: r.handle, display_name: r.display_name, kind: r.sender_kind })))),
      pagination: { hasMore, nextCursor: hasMore && edge ? encodeCursor({ seq: edge.seq, dir: direction }) : null },
    };
  });

  app.get('/channels/:id/messages/:messageId', {
    config: { scope: 'read' },
    schema: { tags: ['messages'], summary: 'One message', params: MessageParams, response: { 200: Data(MessageSchema), ...errorResponses } },
  }, async (request) => {
    const { message, sender } = await loadMessage(request.params, caller(request).principal);
    return { data: await withFreshDownloadUrls(ctx, publicBaseUrl(ctx, request), toWire(message, sender)) };
  });

  app.patch('/channels/:id/messages/:messageId', {
    config: { scope: 'write' },
    schema: { tags: ['messages'], summary: 'Edit (or stream into) your message', params: MessageParams, body: EditMessageBody, response: { 200: Data(MessageSchema), ...errorResponses } },
  }, async (request, reply) => {
    const { message, json } = await editCommit.edit(caller(request).principal, request.params.id, request.params.messageId, request.body);
    if (json !== undefined) return replyWithData(reply, json);
    return { data: message };
  });

  app.delete('/channels/:id/messages/:messageId', {
    config: { scope: 'write' },
    schema: { tags: ['messages'], summary: 'Delete (tombstone) a message', params: MessageParams, response: { 200: Data(MessageSchema), ...errorResponses } },
  }, async (request) => {
    const auth = caller(request);
    const me = auth.principal;
    const { message, sender, role } = await loadMessage(request.params, me);
    if (message.sender_id !== me.id && !canManage(role, auth)) throw forbidden('Only the sender or a channel owner/admin can delete a message');
    if (message.deleted_at) return { data: toWire(message, sender) };
    return { data: await updateMessage(ctx, me, message, sender, { delete: true }) };
  });
}
