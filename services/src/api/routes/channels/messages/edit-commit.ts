import type { Message, SesameEvent } from '@sesamespace/sdk/protocol';
import { EventType } from '@sesamespace/sdk/protocol';
import { sql, type RawBuilder } from 'kysely';
import type { ServiceContext } from '../../../../shared/context.js';
import type { MessageRow, Principal } from '../../../../shared/db/schema.js';
import type { SenderInfo } from '../../../wire.js';
import { answerBatch, answeredOutcomeUnknown, WorkspaceBatches } from './group-commit.js';
import { toWire } from './service.js';

/** An edit of a message's text (`streaming` while an agent is still generating it). */
export interface EditInput { content: string; streaming?: boolean }

interface PendingEdit {
  actor: Principal;
  channelId: string;
  messageId: string;
  change: EditInput;
  resolve: (message: Message) => void;
  reject: (err: unknown) => void;
}

/** Most edits one statement carries. */
const MAX_BATCH = 128;

/**
 * Group commit of the edits of one workspace (streaming tokens into a message is one edit per
 * chunk, so an agent that streams is a steady stream of PATCHes). As for sends (`GroupCommit`):
 * an edit when no batch is in the database starts one at once, and the edits that arrive
 * meanwhile go together in the next, sent as soon as a statement answers (one message's edits
 * never in two at once, so they keep their order). A batch is two round trips: one read of the edited messages
 * with their senders (what the route used to read per edit), then one statement
 * (`batchStatement`, its own transaction) that takes the streams' row locks in id order, writes
 * each message's last edit in the batch, one `message.updated` event per edit at consecutive
 * seqs, and the streams' new heads; then each caller gets its own edited message and the events
 * are published.
 *
 * An edit the batch cannot vouch for — no such message in that channel or workspace, not the
 * caller's, deleted (before the read, or while the statement waited for its lock), the caller
 * no longer a member — is left out and answered afterwards by `editAlone` (the one-by-one
 * path) exactly as it always was (404/403), so one bad edit never fails the others. If the
 * statement fails as a whole, nothing of it was written and every edit is retried alone.
 */
export class EditGroupCommit {
  private readonly batches: WorkspaceBatches<PendingEdit>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly editAlone: (actor: Principal, channelId: string, messageId: string, change: EditInput) => Promise<Message>,
  ) {
    this.batches = new WorkspaceBatches(MAX_BATCH, (workspaceId, batch, answered) => this.commit(workspaceId, batch, answered), (p) => p.messageId,
      ctx.config.SESAME_WRITE_BATCHES_IN_FLIGHT);
  }

  /** Edits `messageId` of `channelId` as `actor`, in its workspace's next batch. */
  edit(actor: Principal, channelId: string, messageId: string, change: EditInput): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      this.batches.add(actor.workspace_id, { actor, channelId, messageId, change, resolve, reject });
    });
  }

  private async commit(workspaceId: string, batch: PendingEdit[], answered: (leftOut: readonly PendingEdit[]) => void): Promise<void> {
    let accepted: Array<{ pending: PendingEdit; message: Message }> = [];
    let alone: PendingEdit[] = [];
    /** Whether the batch statement went to the database (after that, only its answer says whether it committed). */
    let sent = false;
    try {
      // The edited messages and their senders, read as the lone path's route reads them (before
      // any lock); the write below re-checks under the locks that each is still not deleted.
      const rows = await this.ctx.db.selectFrom('messages').innerJoin('principals', 'principals.id', 'messages.sender_id')
        .selectAll('messages').select(['principals.handle', 'principals.display_name', 'principals.kind as sender_kind'])
        .select((eb) => eb.exists(eb.selectFrom('channel_members').select('channel_members.principal_id')
          .whereRef('channel_members.channel_id', '=', 'messages.channel_id').whereRef('channel_members.principal_id', '=', 'messages.sender_id')).as('sender_is_member'))
        .where('messages.id', 'in', [...new Set(batch.map((p) => p.messageId))])
        .execute();
      const byId = new Map(rows.map((row) => [row.id, row]));
      const now = new Date();
      const candidates: Array<{ pending: PendingEdit; message: Message }> = [];
      for (const pending of batch) {
        const { actor, channelId, messageId, change } = pending;
        const row = byId.get(messageId);
        if (!row || row.channel_id !== channelId || row.workspace_id !== workspaceId || row.sender_id !== actor.id || !row.sender_is_member || row.deleted_at) {
          alone.push(pending);
          continue;
        }
        const { handle, display_name, sender_kind, sender_is_member: _member, ...message } = row;
        const sender: SenderInfo = { handle, display_name, kind: sender_kind };
        const edited: MessageRow = { ...message, content: change.content, streaming: change.streaming ?? false, edited_at: now };
        candidates.push({ pending, message: toWire(edited, sender) });
      }
      if (candidates.length) {
        sent = true;
        const { rows: written } = await sql<{ ord: number; seq: number | string }>`${batchStatement(workspaceId, candidates, now)}`.execute(this.ctx.db);
        const seqs = new Map(written.map((r) => [r.ord, Number(r.seq)]));
        const events: SesameEvent[] = [];
        const at = now.toISOString();
        candidates.forEach(({ pending, message }, ord) => {
          const seq = seqs.get(ord);
          if (seq === undefined) {
            alone.push(pending); // deleted since the read: the lone path answers 404
            return;
          }
          accepted.push({ pending, message });
          events.push({ type: EventType.MessageUpdated, stream: message.channelId, seq, data: message, at });
        });
        // Committed (the statement was its own transaction): publish its events in seq order.
        if (events.length) this.ctx.publish(events.sort((a, b) => a.seq - b.seq));
      }
    } catch (err) {
      if (answeredOutcomeUnknown(this.ctx, err, sent, batch, 'the edit')) return;
      this.ctx.logger.debug({ err, size: batch.length }, 'edit group commit failed; applying its edits one by one');
      accepted = [];
      alone = batch;
    }
    // Edits of one message keep their order (last writer by seq).
    await answerBatch(batch, accepted.map(({ pending, message }) => ({ pending, answer: message })), alone, answered,
      (pending) => this.editAlone(pending.actor, pending.channelId, pending.messageId, pending.change));
  }
}

/**
 * A batch of edits as one statement, so one round trip and its own transaction: the channels'
 * stream rows locked in id order (`locked`), then each edited message's new state (its last
 * edit in the batch) written where it is still not deleted (`updated`: the row's latest
 * version is checked, so a delete that committed while we waited for the lock wins), then one
 * `message.updated` event per edit of those messages at consecutive seqs from the stream's
 * head, in arrival order, and the new heads. It answers each written edit's position in the
 * batch and its event's seq; an edit it leaves out wrote nothing.
 */
function batchStatement(workspaceId: string, candidates: ReadonlyArray<{ pending: PendingEdit; message: Message }>, now: Date): RawBuilder<unknown> {
  // The batch as one jsonb parameter, its size as the input's LIMIT (see the send batch's statement).
  const input = JSON.stringify(candidates.map(({ message }, ord) => ({
    ord, message_id: message.id, channel_id: message.channelId, content: message.content, streaming: message.streaming, wire: message,
  })));
  return sql`
    WITH input AS (SELECT * FROM jsonb_to_recordset(${input}::jsonb) AS i (ord int, message_id text, channel_id text, content text, streaming boolean, wire jsonb)
      LIMIT ${candidates.length}),
    locked AS MATERIALIZED (SELECT id, head_seq FROM streams WHERE id IN (SELECT channel_id FROM input) AND workspace_id = ${workspaceId} ORDER BY id FOR UPDATE),
    final AS (SELECT DISTINCT ON (message_id) message_id, channel_id, content, streaming FROM input ORDER BY message_id, ord DESC),
    updated AS (
      UPDATE messages SET content = final.content, streaming = final.streaming, edited_at = ${now}::timestamptz
      FROM final JOIN locked ON locked.id = final.channel_id
      WHERE messages.id = final.message_id AND messages.channel_id = final.channel_id AND messages.deleted_at IS NULL
      RETURNING messages.id),
    accepted AS MATERIALIZED (
      SELECT i.ord, i.channel_id, i.wire, l.head_seq + row_number() OVER (PARTITION BY i.channel_id ORDER BY i.ord) AS seq
      FROM input i JOIN locked l ON l.id = i.channel_id
      WHERE i.message_id IN (SELECT id FROM updated)),
    inserted_events AS (
      INSERT INTO events (stream, seq, workspace_id, type, data, at)
      SELECT channel_id, seq, ${workspaceId}, ${EventType.MessageUpdated}, wire, ${now}::timestamptz FROM accepted),
    heads AS (
      UPDATE streams SET head_seq = batch.head FROM (SELECT channel_id, max(seq) AS head FROM accepted GROUP BY channel_id) AS batch
      WHERE streams.id = batch.channel_id)
    SELECT ord, seq FROM accepted`;
}
