import type { Message } from '@sesamespace/sdk/protocol';
import { EventType } from '@sesamespace/sdk/protocol';
import { sql, type Insertable } from 'kysely';
import type { ServiceContext } from '../../../../shared/context.js';
import type { EventTable, MessageRow, Principal } from '../../../../shared/db/schema.js';
import { withEvents } from '../../../../shared/events.js';
import type { SenderInfo } from '../../../wire.js';
import { WorkspaceBatches } from './group-commit.js';
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

/** Most edits one transaction carries (each is one event row of 6 bind parameters). */
const MAX_BATCH = 128;

/**
 * Group commit of the edits of one workspace (streaming tokens into a message is one edit per
 * chunk, so an agent that streams is a steady stream of PATCHes). As for sends (`GroupCommit`):
 * the first edit when no transaction runs starts one at once, and the edits that arrive while
 * it runs go together in the next: the streams' row locks in one statement (in id order), the
 * edited messages read under those locks in one statement, then one statement that writes the
 * messages' new state (the last edit of each message in the batch, by seq), one
 * `message.updated` event per edit at consecutive seqs, and the streams' new heads; one commit,
 * then each caller gets its own edited message and the events are published.
 *
 * Under the stream's lock nothing else can change a message (a delete, a lone edit, another
 * replica's batch all take that lock first), so what the batch reads is what it writes over.
 * An edit the batch cannot vouch for — no such message in that channel or workspace, not the
 * caller's, deleted, the caller no longer a member — is left out and answered afterwards by
 * `editAlone` (the one-by-one path) exactly as it always was (404/403), so one bad edit never
 * fails the others. If the batch's transaction fails as a whole, nothing of it was committed
 * and every edit is retried alone.
 */
export class EditGroupCommit {
  private readonly batches: WorkspaceBatches<PendingEdit>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly editAlone: (actor: Principal, channelId: string, messageId: string, change: EditInput) => Promise<Message>,
  ) {
    this.batches = new WorkspaceBatches(MAX_BATCH, (workspaceId, batch) => this.commit(workspaceId, batch));
  }

  /** Edits `messageId` of `channelId` as `actor`, in its workspace's next batch. */
  edit(actor: Principal, channelId: string, messageId: string, change: EditInput): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      this.batches.add(actor.workspace_id, { actor, channelId, messageId, change, resolve, reject });
    });
  }

  private async commit(workspaceId: string, batch: PendingEdit[]): Promise<void> {
    let accepted: Array<{ pending: PendingEdit; message: Message }> = [];
    let alone: PendingEdit[] = [];
    try {
      await withEvents(this.ctx.db, workspaceId, this.ctx.publish, async (trx, events) => {
        accepted = [];
        alone = [];
        const channelIds = [...new Set(batch.map((p) => p.channelId))].sort();
        // The streams' row locks, in id order, held to commit: seqs stay gapless and no delete
        // or other edit of these channels' messages runs until we commit.
        const locked = await sql<{ id: string; head_seq: number | string }>`
          SELECT id, head_seq FROM streams WHERE id IN (${sql.join(channelIds)}) AND workspace_id = ${workspaceId} ORDER BY id FOR UPDATE`.execute(trx);
        const seqs = new Map(locked.rows.map((row) => [row.id, { head: Number(row.head_seq), seq: Number(row.head_seq) }]));
        // Read after the locks (a new statement, a new snapshot): a delete that committed while
        // we waited is seen here.
        const rows = await trx.selectFrom('messages').innerJoin('principals', 'principals.id', 'messages.sender_id')
          .selectAll('messages').select(['principals.handle', 'principals.display_name', 'principals.kind as sender_kind'])
          .select((eb) => eb.exists(eb.selectFrom('channel_members').select('channel_members.principal_id')
            .whereRef('channel_members.channel_id', '=', 'messages.channel_id').whereRef('channel_members.principal_id', '=', 'messages.sender_id')).as('sender_is_member'))
          .where('messages.id', 'in', [...new Set(batch.map((p) => p.messageId))])
          .execute();
        const byId = new Map(rows.map((row) => [row.id, row]));
        const now = new Date();
        // The state each edited message ends in: its last edit in this batch.
        const last = new Map<string, { content: string; streaming: boolean }>();
        const byChannel = new Map<string, Array<{ type: string; data: Message; seq: number }>>();
        for (const pending of batch) {
          const { actor, channelId, messageId, change } = pending;
          const row = byId.get(messageId);
          const channel = seqs.get(channelId);
          if (!row || !channel || row.channel_id !== channelId || row.workspace_id !== workspaceId || row.sender_id !== actor.id || !row.sender_is_member || row.deleted_at) {
            alone.push(pending);
            continue;
          }
          const { handle, display_name, sender_kind, sender_is_member: _member, ...message } = row;
          const sender: SenderInfo = { handle, display_name, kind: sender_kind };
          const edited: MessageRow = { ...message, content: change.content, streaming: change.streaming ?? false, edited_at: now };
          const wire = toWire(edited, sender);
          last.set(messageId, { content: edited.content, streaming: edited.streaming });
          const items = byChannel.get(channelId) ?? [];
          items.push({ type: EventType.MessageUpdated, data: wire, seq: ++channel.seq });
          byChannel.set(channelId, items);
          accepted.push({ pending, message: wire });
        }
        if (accepted.length === 0) return;
        const eventRows: Array<Insertable<EventTable>> = [];
        for (const [channelId, items] of byChannel) await events.appendMany(channelId, items, async (written) => { eventRows.push(...written); });
        const heads = [...byChannel.keys()].map((id) => [id, seqs.get(id)?.seq ?? 0] as const);
        // The messages' new state, their events and the streams' heads in one statement.
        const { rows: [result] } = await sql<{ edited: number }>`
          WITH edit (id, content, streaming) AS (VALUES ${sql.join([...last].map(([id, state]) => sql`(${id}::text, ${state.content}::text, ${state.streaming}::boolean)`))}),
          updated AS (
            UPDATE messages SET content = edit.content, streaming = edit.streaming, edited_at = ${now}::timestamptz
            FROM edit WHERE messages.id = edit.id AND messages.deleted_at IS NULL RETURNING messages.id),
          inserted AS (
            INSERT INTO events (stream, seq, workspace_id, type, data, at)
            VALUES ${sql.join(eventRows.map((e) => sql`(${e.stream}, ${e.seq}, ${e.workspace_id}, ${e.type}, ${e.data}, ${e.at})`))}),
          moved AS (
            UPDATE streams SET head_seq = CASE id ${sql.join(heads.map(([id, head]) => sql`WHEN ${id} THEN ${head}::bigint`), sql` `)} END
            WHERE id IN (${sql.join(heads.map(([id]) => id))}))
          SELECT (SELECT count(*) FROM updated)::int AS edited`.execute(trx);
        // Cannot happen under the locks; if it did, the batch rolls back and each edit goes alone.
        if (result.edited !== last.size) throw new Error('an edited message changed under its stream lock');
      });
    } catch (err) {
      this.ctx.logger.debug({ err, size: batch.length }, 'edit group commit failed; applying its edits one by one');
      accepted = [];
      alone = batch;
    }
    for (const { pending, message } of accepted) pending.resolve(message);
    // In arrival order: edits of one message keep their order (last writer by seq).
    for (const pending of alone) {
      await this.editAlone(pending.actor, pending.channelId, pending.messageId, pending.change).then(pending.resolve, pending.reject);
    }
  }
}
