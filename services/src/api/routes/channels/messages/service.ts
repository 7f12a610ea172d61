import type { Message } from '@sesamespace/sdk/protocol';
import { EventType } from '@sesamespace/sdk/protocol';
import { sql } from 'kysely';
import type { ServiceContext } from '../../../../shared/context.js';
import { isUniqueViolation } from '../../../../shared/db/errors.js';
import type { MessageRow, Principal } from '../../../../shared/db/schema.js';
import { badRequest, notFound, unprocessable } from '../../../../shared/errors.js';
import { canReadFile, fileToWire, withFreshDownloadUrls } from '../../drive/files.js';
import { nextSeq, withEvents, type Trx } from '../../../../shared/events.js';
import { newId } from '../../../../shared/ids.js';
import { messageToWire, type SenderInfo } from '../../../wire.js';
import { validateMetadata } from './kinds.js';

export interface SendInput {
  content: string; kind?: string; intent?: string; threadRootId?: string; attachmentIds?: string[]; clientGeneratedId?: string; metadata?: Record<string, unknown>;
}

/** Registered files the sender may share, as the `attachments` entries existing clients read. */
async function resolveAttachments(ctx: ServiceContext, sender: Principal, ids: string[], baseUrl: string) {
  const files = await ctx.db.selectFrom('files').selectAll().where('workspace_id', '=', sender.workspace_id).where('id', 'in', ids).where('status', '=', 'registered').execute();
  const byId = new Map(files.map((f) => [f.id, f]));
  const out = [];
  for (const id of ids) {
    const file = byId.get(id);
    if (!file || !(await canReadFile(ctx, sender, file))) throw unprocessable(`attachmentIds: unknown or unregistered file ${id}`);
    const wire = await fileToWire(ctx, file, baseUrl);
    out.push({ id: wire.id, fileName: wire.fileName, contentType: wire.contentType, size: wire.size, downloadUrl: wire.downloadUrl });
  }
  return out;
}

/** Thrown inside the transaction to roll back a seq allocation when a duplicate send wins. */
class DuplicateSend extends Error {
  constructor(readonly existing: MessageRow) { super('duplicate send'); }
}

async function findByClientId(db: ServiceContext['db'] | Trx, channelId: string, senderId: string, clientGeneratedId: string) {
  return db.selectFrom('messages').selectAll().where('channel_id', '=', channelId).where('sender_id', '=', senderId)
    .where('client_generated_id', '=', clientGeneratedId).executeTakeFirst();
}

export function toWire(row: MessageRow, sender: SenderInfo): Message {
  return messageToWire(row, sender);
}

/**
 * Sends a message. Idempotent by (channel, sender, clientGeneratedId): the seq allocation
 * serialises senders on the channel's stream row, so a duplicate racing us is visible once we
 * hold that lock, and we roll back instead of inserting twice.
 */
export async function sendMessage(ctx: ServiceContext, sender: Principal, channelId: string, input: SendInput, baseUrl = ''): Promise<{ message: Message; created: boolean }> {
  const kind = input.kind ?? 'text';
  const metadata = input.metadata ?? {};
  validateMetadata(kind, metadata);
  if (kind === 'attachment' && !input.attachmentIds?.length) throw badRequest('attachmentIds: a message of kind attachment needs at least one file');
  const attachments = input.attachmentIds?.length ? await resolveAttachments(ctx, sender, input.attachmentIds, baseUrl) : [];
  if (input.clientGeneratedId) {
    const existing = await findByClientId(ctx.db, channelId, sender.id, input.clientGeneratedId);
    if (existing) return { message: await withFreshDownloadUrls(ctx, baseUrl, toWire(existing, sender)), created: false };
  }
  try {
    const row = await withEvents(ctx.db, sender.workspace_id, ctx.publish, async (trx, events) => {
      if (input.threadRootId) {
        const root = await trx.selectFrom('messages').select('id').where('id', '=', input.threadRootId).where('channel_id', '=', channelId).executeTakeFirst();
        if (!root) throw unprocessable('threadRootId: no such message in this channel');
      }
      const seq = await nextSeq(trx, sender.workspace_id, channelId);
      if (input.clientGeneratedId) {
        const existing = await findByClientId(trx, channelId, sender.id, input.clientGeneratedId);
        if (existing) throw new DuplicateSend(existing);
      }
      const inserted = await trx.insertInto('messages').values({
        id: newId('msg'), channel_id: channelId, workspace_id: sender.workspace_id, sender_id: sender.id, seq, kind, content: input.content,
        metadata: JSON.stringify(attachments.length ? { ...metadata, attachments } : metadata), intent: input.intent ?? null, thread_root_id: input.threadRootId ?? null,
        client_generated_id: input.clientGeneratedId ?? null, attachment_ids: JSON.stringify(input.attachmentIds ?? []), created_at: new Date(),
      }).returningAll().executeTakeFirstOrThrow();
      await events.append(channelId, EventType.MessageCreated, toWire(inserted, sender), seq);
      return inserted;
    });
    return { message: toWire(row, sender), created: true };
  } catch (err) {
    if (err instanceof DuplicateSend) return { message: await withFreshDownloadUrls(ctx, baseUrl, toWire(err.existing, sender)), created: false };
    // Unique violation on (channel, sender, clientGeneratedId) from a racing insert on another connection.
    if (input.clientGeneratedId && isUniqueViolation(err)) {
      const existing = await findByClientId(ctx.db, channelId, sender.id, input.clientGeneratedId);
      if (existing) return { message: await withFreshDownloadUrls(ctx, baseUrl, toWire(existing, sender)), created: false };
    }
    throw err;
  }
}

/**
 * What a deleted message keeps: who sent it and its attachments (the files have their own
 * access rules), as `messageToWire` shows a tombstone. Its text is gone.
 */
function tombstoneMetadata(message: MessageRow): Record<string, unknown> {
  const attachments = (message.metadata as Record<string, unknown> | null)?.attachments;
  return attachments ? { attachments } : {};
}

/**
 * Blanks the text of a deleted message in every stored event that carried it (`message` and
 * each `message.updated`), inside the delete's transaction: replay over REST, WebSocket or SSE
 * then shows the tombstone, never the text. The message's events all sit at or after its seq.
 */
async function redactMessageEvents(trx: Trx, message: MessageRow, tombstone: Message) {
  await trx.updateTable('events')
    .set({ data: sql`data || jsonb_build_object('content', '', 'metadata', ${JSON.stringify(tombstone.metadata)}::jsonb)` })
    .where('stream', '=', message.channel_id).where('seq', '>=', message.seq)
    .where('type', 'in', [EventType.MessageCreated, EventType.MessageUpdated])
    .where(sql`data->>'id'`, '=', message.id)
    .execute();
}

/**
 * Applies an edit or tombstone and records it as an event on the channel's stream. An edit
 * (streaming tokens into a message is one per chunk) is three statements: the stream's seq, then
 * the message's new state and its event in one statement, then the commit.
 */
export async function updateMessage(
  ctx: ServiceContext, actor: Principal, message: MessageRow, sender: SenderInfo,
  change: { content?: string; streaming?: boolean; delete?: boolean },
): Promise<Message> {
  if (!change.delete) {
    const edited: MessageRow = { ...message, content: change.content ?? message.content, streaming: change.streaming ?? false, edited_at: new Date() };
    const wire = toWire(edited, sender);
    await withEvents(ctx.db, actor.workspace_id, ctx.publish, async (trx, events) => {
      const seq = await nextSeq(trx, actor.workspace_id, message.channel_id);
      await events.appendMany(message.channel_id, [{ type: EventType.MessageUpdated, data: wire, seq }], async (rows) => {
        const written = await trx
          .with('updated', (db) => db.updateTable('messages').set({ content: edited.content, streaming: edited.streaming, edited_at: edited.edited_at })
            .where('id', '=', message.id).where('deleted_at', 'is', null).returning('id'))
          .insertInto('events').values(rows)
          .returning(sql<number>`(SELECT count(*) FROM updated)::int`.as('edited'))
          .executeTakeFirstOrThrow();
        // Deleted since the route read it (the delete held the stream's lock we just took): the
        // edit must not write the text back into the tombstone. Throwing rolls back the event and the seq.
        if (written.edited !== 1) throw notFound('Message');
      });
    });
    return wire;
  }
  const row = await withEvents(ctx.db, actor.workspace_id, ctx.publish, async (trx, events) => {
    // The stream's lock first, then the message's row, as an edit takes them (no deadlock
    // between an edit and a delete of one message).
    const seq = await nextSeq(trx, actor.workspace_id, message.channel_id);
    const now = new Date();
    const updated = await trx.updateTable('messages')
      .set({ deleted_at: now, streaming: false, content: '', metadata: JSON.stringify(tombstoneMetadata(message)) })
      .where('id', '=', message.id).returningAll().executeTakeFirstOrThrow();
    const wire = toWire(updated, sender);
    await redactMessageEvents(trx, message, wire);
    await events.append(message.channel_id, EventType.MessageDeleted, { id: message.id, channelId: message.channel_id, seq: message.seq, deletedBy: actor.id, deletedAt: wire.deletedAt }, seq);
    return updated;
  });
  return toWire(row, sender);
}
