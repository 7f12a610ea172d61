import type { Message } from '@sesamespace/sdk/protocol';
import { EventType } from '@sesamespace/sdk/protocol';
import { sql, type Insertable, type RawBuilder } from 'kysely';
import type { ServiceContext } from '../../../../shared/context.js';
import type { EventTable, MessageRow, Principal } from '../../../../shared/db/schema.js';
import { withEvents } from '../../../../shared/events.js';
import { newId } from '../../../../shared/ids.js';
import { validateMetadata } from './kinds.js';
import { toWire, type SendInput } from './service.js';

/** A send's answer: its message, and whether this call created it (else an idempotent repeat). */
export interface SendOutcome { message: Message; created: boolean }

interface PendingSend {
  sender: Principal;
  channelId: string;
  input: SendInput;
  baseUrl: string;
  resolve: (outcome: SendOutcome) => void;
  reject: (err: unknown) => void;
}

/** Most sends one transaction carries (each row is 14 bind parameters of one INSERT). */
const MAX_BATCH = 128;

/** Whether the lone path's metadata check would pass (if not, it answers the 400 itself). */
function validMetadata(input: SendInput): boolean {
  try {
    validateMetadata(input.kind ?? 'text', input.metadata ?? {});
    return true;
  } catch {
    return false;
  }
}

const inList = (values: readonly string[]): RawBuilder<unknown> => sql.join(values.map((v) => sql`${v}`));

/**
 * Group commit of the sends of one workspace, across its channels. The first send when no
 * transaction runs starts one at once (no waiting for company); sends that arrive while it
 * runs queue, whatever their channel, and go together in the next transaction: the row locks
 * of every channel's stream in one statement (in id order), consecutive seqs per channel in
 * arrival order, one multi-row INSERT of the messages, one of their events and one UPDATE of
 * the heads, one commit; then each caller gets its own message and the events are published.
 * Under load the process writes at the rate of transactions × batch size instead of one
 * message per transaction, whether its senders share a channel or each has its own.
 *
 * Lock order: a batch locks its streams in one statement sorted by stream id, so two batches
 * (of this process or another replica) wait for each other instead of deadlocking; every other
 * writer of a channel's stream (the one-by-one path, `nextSeq`) locks that one stream only.
 *
 * A batch decides per message, inside its transaction and under the stream locks, what the
 * one-by-one path would: a sender that is not a member, metadata its kind refuses, a thread root
 * that is not in the channel, a `clientGeneratedId` already used (or used twice in the batch) —
 * those messages are left out of the batch and sent alone afterwards by `sendAlone` (the
 * one-by-one path), which answers each exactly as it always did (404/403/422, or the existing
 * message). If the batch's transaction fails as a whole, nothing of it was committed and every
 * message is retried alone, so one bad message never loses the others (and an outage fails
 * each of them, with nothing written).
 */
/**
 * Per-workspace queues of pending writes, each drained by one transaction at a time: the first
 * write when none runs starts one at once, and the writes that arrive meanwhile go together
 * in the next one (at most `maxBatch` each).
 */
export class WorkspaceBatches<T> {
  private readonly queues = new Map<string, T[]>();
  private readonly running = new Set<string>();

  constructor(private readonly maxBatch: number, private readonly commit: (workspaceId: string, batch: T[]) => Promise<void>) {}

  add(workspaceId: string, pending: T): void {
    const queue = this.queues.get(workspaceId);
    if (queue) queue.push(pending);
    else this.queues.set(workspaceId, [pending]);
    if (!this.running.has(workspaceId)) void this.drain(workspaceId);
  }

  private async drain(workspaceId: string): Promise<void> {
    this.running.add(workspaceId);
    try {
      for (;;) {
        const queue = this.queues.get(workspaceId);
        if (!queue?.length) {
          this.queues.delete(workspaceId);
          return;
        }
        await this.commit(workspaceId, queue.splice(0, this.maxBatch));
      }
    } finally {
      this.running.delete(workspaceId);
    }
  }
}

export class GroupCommit {
  private readonly batches: WorkspaceBatches<PendingSend>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly sendAlone: (sender: Principal, channelId: string, input: SendInput, baseUrl: string) => Promise<SendOutcome>,
    private readonly observeBatch: (size: number) => void = () => {},
  ) {
    this.batches = new WorkspaceBatches(MAX_BATCH, (workspaceId, batch) => this.commit(workspaceId, batch));
  }

  /** Sends `input` to `channelId` as `sender`, in its workspace's next batch. */
  send(sender: Principal, channelId: string, input: SendInput, baseUrl: string): Promise<SendOutcome> {
    // One queue per workspace: a batch's events belong to one workspace, and a sender of
    // another workspace naming this channel id is refused by the lone path (404).
    return new Promise<SendOutcome>((resolve, reject) => {
      this.batches.add(sender.workspace_id, { sender, channelId, input, baseUrl, resolve, reject });
    });
  }

  private async commit(workspaceId: string, batch: PendingSend[]): Promise<void> {
    let accepted: Array<{ pending: PendingSend; message: Message }> = [];
    let alone: PendingSend[] = [];
    try {
      await withEvents(this.ctx.db, workspaceId, this.ctx.publish, async (trx, events) => {
        accepted = [];
        alone = [];
        const channelIds = [...new Set(batch.map((p) => p.channelId))].sort();
        const senders = [...new Set(batch.map((p) => p.sender.id))];
        const roots = [...new Set(batch.flatMap((p) => (p.input.threadRootId ? [p.input.threadRootId] : [])))];
        const clientIds = [...new Set(batch.flatMap((p) => (p.input.clientGeneratedId ? [p.input.clientGeneratedId] : [])))];
        // One statement: the streams' row locks, taken in id order (held to commit: seqs stay
        // gapless, and a duplicate racing us on another connection is visible once we hold
        // them), and everything the batch must check, per channel.
        const check = await sql<{ id: string; head_seq: number | string; members: string[]; roots: string[]; used: string[] }>`
          SELECT s.id, s.head_seq,
            ARRAY(SELECT cm.principal_id FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
                  WHERE cm.channel_id = s.id AND c.workspace_id = ${workspaceId} AND cm.principal_id IN (${inList(senders)})) AS members,
            ${roots.length ? sql`ARRAY(SELECT id FROM messages WHERE channel_id = s.id AND id IN (${inList(roots)}))` : sql`ARRAY[]::text[]`} AS roots,
            ${clientIds.length ? sql`ARRAY(SELECT sender_id || ' ' || client_generated_id FROM messages WHERE channel_id = s.id AND client_generated_id IN (${inList(clientIds)}))` : sql`ARRAY[]::text[]`} AS used
          FROM streams s WHERE s.id IN (${inList(channelIds)}) ORDER BY s.id FOR UPDATE OF s`.execute(trx);
        const channels = new Map(check.rows.map((row) => [row.id, {
          members: new Set(row.members), roots: new Set(row.roots), used: new Set(row.used), head: Number(row.head_seq), seq: Number(row.head_seq),
        }]));
        const now = new Date();
        const rows: MessageRow[] = [];
        for (const pending of batch) {
          const { sender, input, channelId } = pending;
          // No stream row yet (the lone path creates it), or a send the lone path must answer.
          const channel = channels.get(channelId);
          const clientKey = input.clientGeneratedId ? `${sender.id} ${input.clientGeneratedId}` : null;
          if (!channel || !channel.members.has(sender.id) || !validMetadata(input) || (input.threadRootId && !channel.roots.has(input.threadRootId)) || (clientKey && channel.used.has(clientKey))) {
            alone.push(pending);
            continue;
          }
          if (clientKey) channel.used.add(clientKey);
          const row: MessageRow = {
            id: newId('msg'), channel_id: channelId, workspace_id: workspaceId, sender_id: sender.id, seq: ++channel.seq, kind: input.kind ?? 'text',
            content: input.content, metadata: input.metadata ?? {}, intent: input.intent ?? null, thread_root_id: input.threadRootId ?? null,
            client_generated_id: input.clientGeneratedId ?? null, attachment_ids: [], streaming: false, edited_at: null, deleted_at: null, created_at: now,
          };
          rows.push(row);
          accepted.push({ pending, message: toWire(row, sender) });
        }
        if (rows.length === 0) return;
        const messageRows = rows.map((r) => ({
          id: r.id, channel_id: r.channel_id, workspace_id: r.workspace_id, sender_id: r.sender_id, seq: r.seq, kind: r.kind, content: r.content,
          metadata: JSON.stringify(r.metadata), intent: r.intent, thread_root_id: r.thread_root_id, client_generated_id: r.client_generated_id,
          attachment_ids: JSON.stringify(r.attachment_ids), created_at: r.created_at,
        }));
        // Each channel's events, collected (and published after commit) per stream…
        const eventRows: Array<Insertable<EventTable>> = [];
        const byChannel = new Map<string, Array<{ type: string; data: Message; seq: number }>>();
        for (const { message } of accepted) {
          const items = byChannel.get(message.channelId) ?? [];
          items.push({ type: EventType.MessageCreated, data: message, seq: message.seq });
          byChannel.set(message.channelId, items);
        }
        for (const [channelId, items] of byChannel) await events.appendMany(channelId, items, async (written) => { eventRows.push(...written); });
        // …then the messages, their events and the streams' new heads in one statement.
        const heads = [...channels].filter(([id]) => byChannel.has(id)).map(([id, channel]) => [id, channel.seq] as const);
        await trx
          .with('inserted_messages', (db) => db.insertInto('messages').values(messageRows))
          .with('inserted_events', (db) => db.insertInto('events').values(eventRows))
          .updateTable('streams')
          .set({ head_seq: sql<number>`CASE id ${sql.join(heads.map(([id, head]) => sql`WHEN ${id} THEN ${head}::bigint`), sql` `)} END` })
          .where('id', 'in', heads.map(([id]) => id))
          .execute();
      });
    } catch (err) {
      // Nothing of the batch was committed: each message goes alone and meets its own fate.
      this.ctx.logger.debug({ err, size: batch.length }, 'group commit failed; sending its messages one by one');
      accepted = [];
      alone = batch;
    }
    if (accepted.length) this.observeBatch(accepted.length);
    for (const { pending, message } of accepted) pending.resolve({ message, created: true });
    // In arrival order, one after the other: they would serialise on their stream's lock
    // anyway, and a repeated clientGeneratedId then finds the message its first copy created.
    for (const pending of alone) {
      await this.sendAlone(pending.sender, pending.channelId, pending.input, pending.baseUrl).then(pending.resolve, pending.reject);
    }
  }
}
