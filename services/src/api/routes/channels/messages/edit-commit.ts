import type { Message, PrincipalKind, SesameEvent } from '@sesamespace/sdk/protocol';
import { EventType } from '@sesamespace/sdk/protocol';
import { sql, type RawBuilder } from 'kysely';
import type { ServiceContext } from '../../../../shared/context.js';
import { executePrepared } from '../../../../shared/db/database.js';
import type { MessageRow, Principal } from '../../../../shared/db/schema.js';
import { liveMessageWireSql } from '../../../wire.js';
import { answerBatch, answeredOutcomeUnknown, WorkspaceBatches } from './group-commit.js';
import { toWire } from './service.js';

/** An edit of a message's text (`streaming` while an agent is still generating it). */
export interface EditInput { content: string; streaming?: boolean }

/** An edit's answer: the edited message; from a batch also `json`, made once for the publish and the reply. */
export interface EditOutcome { message: Message; json?: string }

interface PendingEdit {
  actor: Principal;
  channelId: string;
  messageId: string;
  change: EditInput;
  resolve: (outcome: EditOutcome) => void;
  reject: (err: unknown) => void;
}

/** Most edits one statement carries. */
const MAX_BATCH = 128;

/**
 * Group commit of the edits of one workspace (streaming tokens into a message is one edit per
 * chunk, so an agent that streams is a steady stream of PATCHes). As for sends (`GroupCommit`):
 * an edit when no batch is in the database starts one at once, and the edits that arrive
 * meanwhile go together in the next, sent as soon as a statement answers (one message's edits
 * never in two at once, so they keep their order). A batch is one round trip: one statement
 * (`batchStatement`, its own transaction) that takes the streams' row locks in id order, reads
 * the edited messages with their senders (what the route used to read per edit), writes each
 * message's last edit in the batch, one `message.updated` event per edit at consecutive seqs,
 * and the streams' new heads; then each caller gets its own edited message and the events are
 * published.
 *
 * An edit the batch cannot vouch for — no such message in that channel or workspace, not the
 * caller's, deleted (also while the statement waited for its lock), the caller
 * no longer a member — is left out and answered afterwards by `editAlone` (the one-by-one
 * path) exactly as it always was (404/403), so one bad edit never fails the others. If the
 * statement fails as a whole, nothing of it was written and every edit is retried alone.
 */
export class EditGroupCommit {
  private readonly batches: WorkspaceBatches<PendingEdit>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly editAlone: (actor: Principal, channelId: string, messageId: string, change: EditInput) => Promise<EditOutcome>,
  ) {
    this.batches = new WorkspaceBatches(MAX_BATCH, (workspaceId, batch, answered) => this.commit(workspaceId, batch, answered), (p) => p.messageId,
      ctx.config.SESAME_WRITE_BATCHES_IN_FLIGHT);
  }

  /** Edits `messageId` of `channelId` as `actor`, in its workspace's next batch. */
  edit(actor: Principal, channelId: string, messageId: string, change: EditInput): Promise<EditOutcome> {
    return new Promise<EditOutcome>((resolve, reject) => {
      this.batches.add(actor.workspace_id, { actor, channelId, messageId, change, resolve, reject });
    });
  }

  private async commit(workspaceId: string, batch: PendingEdit[], answered: (leftOut: readonly PendingEdit[]) => void): Promise<void> {
    let accepted: Array<{ pending: PendingEdit; answer: EditOutcome }> = [];
    let alone: PendingEdit[] = [];
    /** Whether the batch statement went to the database (after that, only its answer says whether it committed). */
    let sent = false;
    try {
      const now = new Date();
      // One statement reads the edited messages and their senders under the streams' locks,
      // checks each edit and writes the batch (see `batchStatement`): one round trip.
      const statement = sql<EditedRow>`${batchStatement(workspaceId, batch, now)}`;
      sent = true;
      const { rows } = await executePrepared(this.ctx.db, 'sesame_edit_batch', statement);
      const written = new Map(rows.map((row) => [row.ord, row]));
      const events: Array<{ event: SesameEvent; json: string }> = [];
      const at = now.toISOString();
      batch.forEach((pending, ord) => {
        const row = written.get(ord);
        if (!row) {
          alone.push(pending); // the lone path answers it (404/403), as it always did
          return;
        }
        // Serialised once, for the publish and the reply.
        const message = editedToWire(row, pending, now);
        const json = JSON.stringify(message);
        accepted.push({ pending, answer: { message, json } });
        events.push({ event: { type: EventType.MessageUpdated, stream: message.channelId, seq: Number(row.event_seq), data: message, at }, json });
      });
      // Committed (the statement was its own transaction): publish its events in seq order.
      if (events.length) {
        events.sort((a, b) => a.event.seq - b.event.seq);
        this.ctx.publish(events.map((e) => e.event), events.map((e) => e.json));
      }
    } catch (err) {
      if (answeredOutcomeUnknown(this.ctx, err, sent, batch, 'the edit')) return;
      this.ctx.logger.debug({ err, size: batch.length }, 'edit group commit failed; applying its edits one by one');
      accepted = [];
      alone = batch;
    }
    // Edits of one message keep their order (last writer by seq).
    await answerBatch(batch, accepted, alone, answered,
      (pending) => this.editAlone(pending.actor, pending.channelId, pending.messageId, pending.change));
  }
}

/** What the batch statement answers per written edit: its position, its event's seq, and the edited message with its sender. */
interface EditedRow {
  ord: number; event_seq: number | string;
  id: string; channel_id: string; workspace_id: string; sender_id: string; seq: number | string; kind: string; metadata: Record<string, unknown>;
  intent: string | null; thread_root_id: string | null; client_generated_id: string | null; attachment_ids: string[]; created_at: Date | string;
  handle: string; display_name: string; sender_kind: PrincipalKind;
}

/** The edited message as the caller gets it back and its event carries (`messageToWire` of the edited row). */
function editedToWire(row: EditedRow, pending: PendingEdit, now: Date): Message {
  const edited: MessageRow = {
    id: row.id, channel_id: row.channel_id, workspace_id: row.workspace_id, sender_id: row.sender_id, seq: Number(row.seq), kind: row.kind,
    content: pending.change.content, metadata: row.metadata, intent: row.intent, thread_root_id: row.thread_root_id, client_generated_id: row.client_generated_id,
    attachment_ids: row.attachment_ids, streaming: pending.change.streaming ?? false, edited_at: now, deleted_at: null, created_at: new Date(row.created_at),
  };
  return toWire(edited, { handle: row.handle, display_name: row.display_name, kind: row.sender_kind });
}

/**
 * A batch of edits as one statement, so one round trip and its own transaction: the channels'
 * stream rows locked in id order (`locked`), then each edited message's new state (its last
 * edit in the batch by its sender) written where the message is in that channel and workspace,
 * its sender still a member and the message still not deleted (`updated`: the row's latest
 * version is checked, so a delete that committed while we waited for the lock wins), then one
 * `message.updated` event per edit of those messages by their sender at consecutive seqs from
 * the stream's head, in arrival order, and the new heads. Each event's data is the edited
 * message as `messageToWire` shapes it, built here from the updated row and its sender by
 * `liveMessageWireSql` (the api builds the same from the answered row for the reply and the publish). It answers each
 * written edit's position in the batch, its event's seq and the message with its sender; an
 * edit it leaves out wrote nothing and takes the lone path.
 */
function batchStatement(workspaceId: string, batch: readonly PendingEdit[], now: Date): RawBuilder<unknown> {
  // The batch as one jsonb parameter, its size as the input's LIMIT (see the send batch's statement).
  const input = JSON.stringify(batch.map(({ actor, channelId, messageId, change }, ord) => ({
    ord, message_id: messageId, channel_id: channelId, actor_id: actor.id, content: change.content, streaming: change.streaming ?? false,
  })));
  return sql`
    WITH input AS (SELECT * FROM jsonb_to_recordset(${input}::jsonb) AS i (ord int, message_id text, channel_id text, actor_id text, content text, streaming boolean)
      LIMIT (SELECT ${batch.length}::int)),
    locked AS MATERIALIZED (SELECT id, head_seq FROM streams WHERE id IN (SELECT channel_id FROM input) AND workspace_id = ${workspaceId} ORDER BY id FOR UPDATE),
    final AS (SELECT DISTINCT ON (message_id) message_id, i.channel_id, i.actor_id, i.content, i.streaming FROM input i
      JOIN messages m ON m.id = i.message_id AND m.channel_id = i.channel_id AND m.sender_id = i.actor_id AND m.workspace_id = ${workspaceId}
      ORDER BY message_id, ord DESC),
    updated AS (
      UPDATE messages SET content = final.content, streaming = final.streaming, edited_at = ${now}::timestamptz
      FROM final JOIN locked ON locked.id = final.channel_id
      WHERE messages.id = final.message_id AND messages.channel_id = final.channel_id AND messages.sender_id = final.actor_id AND messages.deleted_at IS NULL
        AND EXISTS (SELECT 1 FROM channel_members cm WHERE cm.channel_id = final.channel_id AND cm.principal_id = final.actor_id)
      RETURNING messages.id, messages.channel_id, messages.workspace_id, messages.sender_id, messages.seq, messages.kind, messages.metadata, messages.intent,
        messages.thread_root_id, messages.client_generated_id, messages.attachment_ids, messages.created_at),
    accepted AS MATERIALIZED (
      SELECT i.ord, i.content, i.streaming, u.*, p.handle, p.display_name, p.kind AS sender_kind,
        l.head_seq + row_number() OVER (PARTITION BY i.channel_id ORDER BY i.ord) AS event_seq
      FROM input i JOIN locked l ON l.id = i.channel_id JOIN updated u ON u.id = i.message_id AND u.channel_id = i.channel_id AND u.sender_id = i.actor_id
        JOIN principals p ON p.id = u.sender_id),
    inserted_events AS (
      INSERT INTO events (stream, seq, workspace_id, type, data, at)
      SELECT channel_id, event_seq, ${workspaceId}, ${EventType.MessageUpdated}, ${liveMessageWireSql(now.toISOString())}, ${now}::timestamptz FROM accepted),
    heads AS (
      UPDATE streams SET head_seq = batch.head FROM (SELECT channel_id, max(event_seq) AS head FROM accepted GROUP BY channel_id) AS batch
      WHERE streams.id = batch.channel_id)
    SELECT ord, event_seq, id, channel_id, workspace_id, sender_id, seq, kind, metadata, intent, thread_root_id, client_generated_id, attachment_ids, created_at,
      handle, display_name, sender_kind FROM accepted`;
}
