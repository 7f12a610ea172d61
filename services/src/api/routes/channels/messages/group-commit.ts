import type { Message } from '@sesamespace/sdk/protocol';
import { EventType } from '@sesamespace/sdk/protocol';
import { sql, type RawBuilder } from 'kysely';
import type { ServiceContext } from '../../../../shared/context.js';
import { executePrepared } from '../../../../shared/db/database.js';
import { isDatabaseAnswer, outcomeUnknown } from '../../../../shared/db/errors.js';
import type { MessageRow, Principal } from '../../../../shared/db/schema.js';
import { newId } from '../../../../shared/ids.js';
import { wireColumnsSql } from '../../../wire.js';
import { validateMetadata } from './kinds.js';
import { toWire, type SendInput } from './service.js';

/**
 * A send's answer: its message, and whether this call created it (else an idempotent repeat);
 * from a batch also `json`, the message as `JSON.stringify` prints it, made once for the
 * statement, the publish and the reply.
 */
export interface SendOutcome { message: Message; created: boolean; json?: string }

interface PendingSend {
  sender: Principal;
  channelId: string;
  input: SendInput;
  /** The request's public base URL, asked for only by the lone path (links of attachments). */
  baseUrl: () => string;
  resolve: (outcome: SendOutcome) => void;
  reject: (err: unknown) => void;
}

/** Most sends one transaction carries. */
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

/** One workspace's queue and its batches in flight. */
interface WorkspaceQueue<T> {
  queue: T[];
  /** Batch statements of this workspace awaiting their answer. */
  inFlight: number;
  /** The order keys of the writes not yet answered by a batch, with how many of each. */
  keys: Map<string, number>;
  /**
   * The last look found no queued write free to go, each waiting for its key (so every queued
   * key is held): a new write of a held key need not look again.
   */
  stuck: boolean;
}

/**
 * A batch's commit. It calls `answered` once its statement has answered (before answering its
 * callers), naming the writes it left out and still has to write one by one: the next batch
 * can then be sent at once, while this one answers its callers; the writes named keep their
 * keys until the commit's promise settles.
 */
export type BatchCommit<T> = (workspaceId: string, batch: T[], answered: (leftOut: readonly T[]) => void) => Promise<void>;

/**
 * Per-workspace queues of pending writes, each drained by up to `maxInFlight` batch statements
 * at a time: a write when fewer are in flight starts one at once, and the writes that arrive
 * meanwhile go together in the next (at most `maxBatch` each). A batch frees its place as soon
 * as its statement answers, so the next statement is on its way to the database while the
 * previous batch's callers get their replies; with two places, a batch is also sent while
 * another is in the database (lower latency, but smaller batches: more statements per write).
 *
 * Batches in flight together are concurrent transactions, as two api replicas' batches are: the
 * row locks keep each stream's seq gapless, and which of them numbers a stream first is free,
 * since none of their requests was answered before the others arrived. What a writer sees as
 * its own order is kept: writes with the same `orderKey` (one sender's sends to one channel,
 * one message's edits) are never in two batches in flight at once; a later one waits here
 * until the earlier one's statement answered (and, if it was left out of its batch, until it was
 * written alone), so writes fired without waiting are numbered in the order they arrived.
 */
export class WorkspaceBatches<T> {
  private readonly workspaces = new Map<string, WorkspaceQueue<T>>();

  constructor(
    private readonly maxBatch: number,
    private readonly commit: BatchCommit<T>,
    private readonly orderKey: (pending: T) => string,
    private readonly maxInFlight: number,
  ) {}

  add(workspaceId: string, pending: T): void {
    let state = this.workspaces.get(workspaceId);
    if (!state) this.workspaces.set(workspaceId, (state = { queue: [], inFlight: 0, keys: new Map(), stuck: false }));
    state.queue.push(pending);
    if (state.stuck && state.keys.has(this.orderKey(pending))) return;
    this.pump(workspaceId, state);
  }

  private pump(workspaceId: string, state: WorkspaceQueue<T>): void {
    state.stuck = false;
    while (state.inFlight < this.maxInFlight && state.queue.length) {
      const batch = this.take(state);
      if (!batch.length) {
        state.stuck = true; // each one waits for an earlier write of its key
        break;
      }
      this.hold(state, batch, 1);
      state.inFlight++;
      let leftOut: readonly T[] | undefined;
      const answered = (writes: readonly T[]) => {
        if (leftOut) return;
        leftOut = writes;
        state.inFlight--;
        const kept = new Set(writes);
        this.hold(state, batch.filter((pending) => !kept.has(pending)), -1);
        this.pump(workspaceId, state);
      };
      void this.commit(workspaceId, batch, answered).finally(() => {
        if (leftOut) this.hold(state, leftOut, -1);
        else answered([]);
        this.pump(workspaceId, state);
      });
    }
    // Idle: forgotten (unless a newer queue of the workspace has replaced this one already).
    if (state.inFlight === 0 && !state.queue.length && state.keys.size === 0 && this.workspaces.get(workspaceId) === state) this.workspaces.delete(workspaceId);
  }

  /** Counts the keys of `writes` in (`by` 1) or out (-1). */
  private hold(state: WorkspaceQueue<T>, writes: readonly T[], by: 1 | -1): void {
    for (const pending of writes) {
      const key = this.orderKey(pending);
      const count = (state.keys.get(key) ?? 0) + by;
      if (count > 0) state.keys.set(key, count);
      else state.keys.delete(key);
    }
  }

  /**
   * The next batch: queued writes in arrival order, at most `maxBatch`, leaving queued (with
   * every later write of the same key) those whose key an earlier write still holds.
   */
  private take(state: WorkspaceQueue<T>): T[] {
    if (state.keys.size === 0) return state.queue.splice(0, this.maxBatch);
    const batch: T[] = [];
    const left: T[] = [];
    const held = new Set<string>();
    for (const pending of state.queue) {
      const key = this.orderKey(pending);
      if (batch.length < this.maxBatch && !held.has(key) && !state.keys.has(key)) batch.push(pending);
      else {
        held.add(key);
        left.push(pending);
      }
    }
    state.queue = left;
    return batch;
  }
}

/**
 * After a batch statement failed: when the connection failed with the statement sent (no
 * SQLSTATE: it may have committed), going alone could write the batch twice, so every caller
 * hears that the outcome is unknown (503) and this answers true. Otherwise nothing was committed
 * and each write goes alone (false).
 */
export function answeredOutcomeUnknown(ctx: ServiceContext, err: unknown, sent: boolean, batch: ReadonlyArray<{ reject(err: unknown): void }>, what: string): boolean {
  if (!sent || isDatabaseAnswer(err)) return false;
  ctx.logger.warn({ err, size: batch.length }, 'group commit: connection failed mid-statement; outcome unknown');
  for (const pending of batch) pending.reject(outcomeUnknown(what));
  return true;
}

/** `some` of `batch`'s writes, in the order they arrived (a batch keeps arrival order). */
function inArrivalOrder<T>(batch: readonly T[], some: T[]): T[] {
  const arrival = new Map(batch.map((pending, i) => [pending, i]));
  return some.sort((a, b) => (arrival.get(a) ?? 0) - (arrival.get(b) ?? 0));
}

/**
 * How a batch (sends or edits) answers once its statement has: the next batch may go first
 * (`answered`, before this one's callers are replied to), then each written caller gets its
 * answer, then the writes the batch left out go alone, one after the other in arrival order
 * (they would serialise on their stream's lock anyway, and a later write of the same key must
 * follow an earlier one).
 */
export async function answerBatch<P extends { resolve: (answer: A) => void; reject: (err: unknown) => void }, A>(
  batch: readonly P[], written: ReadonlyArray<{ pending: P; answer: A }>, alone: P[],
  answered: (leftOut: readonly P[]) => void, goAlone: (pending: P) => Promise<A>,
): Promise<void> {
  answered(alone);
  for (const { pending, answer } of written) pending.resolve(answer);
  for (const pending of inArrivalOrder(batch, alone)) await goAlone(pending).then(pending.resolve, pending.reject);
}

/**
 * Group commit of the sends of one workspace, across its channels. A send when no batch is in
 * the database (fewer than `SESAME_WRITE_BATCHES_IN_FLIGHT`) starts one at once (no waiting for
 * company); sends that arrive meanwhile queue, whatever their channel, and go together in the
 * next transaction, sent as soon as a statement answers (one sender's sends to one channel
 * never in two at once: `WorkspaceBatches`) — one statement
 * (`batchStatement`), one round trip: the row locks of every channel's stream (in id order),
 * the checks, consecutive seqs per channel in arrival order, the messages, their events and
 * the heads; then each caller gets its own message and the events are published.
 * Under load the process writes at the rate of transactions × batch size instead of one
 * message per transaction, whether its senders share a channel or each has its own.
 *
 * Lock order: a batch locks its streams in one statement sorted by stream id, so two batches
 * (of this process or another replica) wait for each other instead of deadlocking; every other
 * writer of a channel's stream (the one-by-one path, `nextSeq`) locks that one stream only.
 *
 * A batch decides per message, inside its statement, what the
 * one-by-one path would: a sender that is not a member, metadata its kind refuses, a thread root
 * that is not in the channel, a `clientGeneratedId` already used (or used twice in the batch) —
 * those messages are left out of the batch and sent alone afterwards by `sendAlone` (the
 * one-by-one path), which answers each exactly as it always did (404/403/422, or the existing
 * message). If the batch's statement fails as a whole, nothing of it was committed and every
 * message is retried alone, so one bad message never loses the others (and an outage fails
 * each of them, with nothing written).
 */
export class GroupCommit {
  private readonly batches: WorkspaceBatches<PendingSend>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly sendAlone: (sender: Principal, channelId: string, input: SendInput, baseUrl: () => string) => Promise<SendOutcome>,
    private readonly observeBatch: (size: number) => void = () => {},
  ) {
    this.batches = new WorkspaceBatches(MAX_BATCH, (workspaceId, batch, answered) => this.commit(workspaceId, batch, answered), (p) => `${p.sender.id} ${p.channelId}`,
      ctx.config.SESAME_WRITE_BATCHES_IN_FLIGHT);
  }

  /** Sends `input` to `channelId` as `sender`, in its workspace's next batch. */
  send(sender: Principal, channelId: string, input: SendInput, baseUrl: () => string): Promise<SendOutcome> {
    // One queue per workspace: a batch's events belong to one workspace, and a sender of
    // another workspace naming this channel id is refused by the lone path (404).
    return new Promise<SendOutcome>((resolve, reject) => {
      this.batches.add(sender.workspace_id, { sender, channelId, input, baseUrl, resolve, reject });
    });
  }

  private async commit(workspaceId: string, batch: PendingSend[], answered: (leftOut: readonly PendingSend[]) => void): Promise<void> {
    let accepted: Array<{ pending: PendingSend; message: Message; json: string }> = [];
    let alone: PendingSend[] = [];
    /** Whether the batch statement went to the database (after that, only its answer says whether it committed). */
    let sent = false;
    try {
      const now = new Date();
      const candidates: Array<{ pending: PendingSend; message: Message; wire: string }> = [];
      const firstUse = new Set<string>();
      for (const pending of batch) {
        const { sender, input, channelId } = pending;
        // A send the lone path must answer (metadata its kind refuses, a clientGeneratedId used
        // twice in this batch: its first copy goes in the batch, the others find it afterwards).
        const clientKey = input.clientGeneratedId ? `${channelId} ${sender.id} ${input.clientGeneratedId}` : null;
        if (!validMetadata(input) || (clientKey && firstUse.has(clientKey))) {
          alone.push(pending);
          continue;
        }
        if (clientKey) firstUse.add(clientKey);
        const row: MessageRow = {
          id: newId('msg'), channel_id: channelId, workspace_id: workspaceId, sender_id: sender.id, seq: 0, kind: input.kind ?? 'text',
          content: input.content, metadata: input.metadata ?? {}, intent: input.intent ?? null, thread_root_id: input.threadRootId ?? null,
          client_generated_id: input.clientGeneratedId ?? null, attachment_ids: [], streaming: false, edited_at: null, deleted_at: null, created_at: now,
        };
        // Serialised once (at seq 0): the statement's input, then with its seq the event
        // published and the caller's reply.
        const message = toWire(row, sender);
        candidates.push({ pending, message, wire: JSON.stringify(message) });
      }
      if (candidates.length) {
        const statement = sql<{ ord: number; seq: number | string }>`${batchStatement(workspaceId, candidates.map((c) => c.wire), now)}`;
        sent = true;
        const { rows } = await executePrepared(this.ctx.db, 'sesame_send_batch', statement);
        const seqs = new Map(rows.map((r) => [r.ord, Number(r.seq)]));
        candidates.forEach(({ pending, message, wire }, ord) => {
          const seq = seqs.get(ord);
          if (seq === undefined) alone.push(pending);
          else {
            const numbered = { ...message, seq };
            accepted.push({ pending, message: numbered, json: withSeq(wire, numbered) });
          }
        });
        // Committed (the statement was its own transaction): publish its events.
        if (accepted.length) {
          const at = now.toISOString();
          this.ctx.publish(accepted.map(({ message }) => ({ type: EventType.MessageCreated, stream: message.channelId, seq: message.seq, data: message, at })),
            accepted.map(({ json }) => json));
        }
      }
    } catch (err) {
      if (answeredOutcomeUnknown(this.ctx, err, sent, batch, 'the message')) return;
      // Nothing of the batch was committed: each message goes alone and meets its own fate.
      this.ctx.logger.debug({ err, size: batch.length }, 'group commit failed; sending its messages one by one');
      accepted = [];
      alone = batch;
    }
    if (accepted.length) this.observeBatch(accepted.length);
    // A repeated clientGeneratedId, going alone after its first copy, finds the message it created.
    await answerBatch(batch, accepted.map(({ pending, message, json }) => ({ pending, answer: { message, created: true, json } })), alone, answered,
      (pending) => this.sendAlone(pending.sender, pending.channelId, pending.input, pending.baseUrl));
  }
}

/**
 * `JSON.stringify(message)` from the text of the same message at seq 0 (`wire`): its seq put in.
 * The seq follows the id, channel and sender ids, which cannot hold an unescaped quote, so the
 * first `,"seq":0,` is the seq's own.
 */
function withSeq(wire: string, message: Message): string {
  const at = wire.indexOf(',"seq":0,');
  return at < 0 ? JSON.stringify(message) : `${wire.slice(0, at + 7)}${String(message.seq)}${wire.slice(at + 8)}`;
}

/** The send batch's input columns, read from each wire message (made once: the statement's text never changes). */
const INPUT_COLUMNS = wireColumnsSql('w', ['id', 'channelId', 'senderId', 'kind', 'content', 'intent', 'threadRootId', 'clientGeneratedId']);

/**
 * A whole batch as one statement, so one round trip and its own transaction (no BEGIN, no
 * COMMIT): the channels' stream rows locked in id order (`locked`; a row lock returns the
 * row's latest head, whoever committed while we waited), the sends every check passes
 * (`accepted`: the sender is a member of the channel in this workspace, the thread root is in
 * the channel, the clientGeneratedId is unused), numbered per channel from its head in arrival
 * order, then their messages, their events (the wire message the sender gets back, with its
 * seq) and the new heads. It answers each accepted send's position in the batch and its seq;
 * a send it leaves out wrote nothing and takes the lone path.
 */
function batchStatement(workspaceId: string, wires: readonly string[], now: Date): RawBuilder<unknown> {
  // The whole batch as one jsonb parameter, the array of the wire messages (at seq 0) the
  // senders get back, already serialised: the statement's text is the same whatever the
  // batch's size (no VALUES row of 11 parameters per send for the api to build and bind and
  // Postgres to parse), and nothing is serialised twice. Each row's columns are read from its
  // wire message (its metadata without the four keys the server adds, which a client may not
  // set: \`validateMetadata\`). Its LIMIT (the batch's size, never reached) tells the planner
  // there are few rows: it would assume 100 for the function, and then hash the whole messages
  // table for the checks instead of probing its indexes per send. Read through an init plan,
  // the LIMIT is an estimate of 10 rows for custom and generic plans alike, so the prepared
  // statement's plan cache settles on the generic plan (\`executePrepared\`) whatever the first
  // batches' sizes; with a bare parameter a custom plan saw small first batches as cheaper and
  // every batch was planned again.
  const input = `[${wires.join(',')}]`;
  return sql`
    WITH input AS (SELECT (e.ord - 1)::int AS ord, ${INPUT_COLUMNS}, w AS wire
      FROM jsonb_array_elements(${input}::jsonb) WITH ORDINALITY AS e (w, ord) LIMIT (SELECT ${wires.length}::int)),
    locked AS MATERIALIZED (SELECT id, head_seq FROM streams WHERE id IN (SELECT channel_id FROM input) ORDER BY id FOR UPDATE),
    accepted AS MATERIALIZED (
      SELECT i.*, l.head_seq + row_number() OVER (PARTITION BY i.channel_id ORDER BY i.ord) AS seq
      FROM input i JOIN locked l ON l.id = i.channel_id
      WHERE EXISTS (SELECT 1 FROM channel_members cm JOIN channels c ON c.id = cm.channel_id
                    WHERE cm.channel_id = i.channel_id AND cm.principal_id = i.sender_id AND c.workspace_id = ${workspaceId})
        AND (i.thread_root_id IS NULL OR EXISTS (SELECT 1 FROM messages m WHERE m.id = i.thread_root_id AND m.channel_id = i.channel_id))
        AND (i.client_generated_id IS NULL OR NOT EXISTS (SELECT 1 FROM messages m
             WHERE m.channel_id = i.channel_id AND m.sender_id = i.sender_id AND m.client_generated_id = i.client_generated_id))),
    inserted_messages AS (
      INSERT INTO messages (id, channel_id, workspace_id, sender_id, seq, kind, content, metadata, intent, thread_root_id, client_generated_id, attachment_ids, created_at)
      SELECT id, channel_id, ${workspaceId}, sender_id, seq, kind, content, metadata, intent, thread_root_id, client_generated_id, '[]'::jsonb, ${now}::timestamptz FROM accepted),
    inserted_events AS (
      INSERT INTO events (stream, seq, workspace_id, type, data, at)
      SELECT channel_id, seq, ${workspaceId}, ${EventType.MessageCreated}, jsonb_set(wire, '{seq}', to_jsonb(seq)), ${now}::timestamptz FROM accepted),
    heads AS (
      UPDATE streams SET head_seq = batch.head FROM (SELECT channel_id, max(seq) AS head FROM accepted GROUP BY channel_id) AS batch
      WHERE streams.id = batch.channel_id)
    SELECT ord, seq FROM accepted`;
}
