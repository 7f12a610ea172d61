import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { sql, type Insertable, type Transaction } from 'kysely';
import type { Bus } from './bus/index.js';
import type { Database, EventTable } from './db/schema.js';
import { metrics } from './metrics.js';
import { executePrepared, type Db } from './db/database.js';

export type Trx = Transaction<Database>;

/** An int8 as a driver may hand it back (a number once parsed; a string or bigint from raw SQL or aggregates). */
const int8 = (value: number | string | bigint): number => Number(value);

/**
 * Allocates the next seq of `stream` inside `trx`. The row lock taken by the UPDATE is held
 * until commit, so concurrent writers to one stream serialise here and seq stays gapless:
 * a rolled-back transaction releases its number along with its lock.
 */
export async function nextSeq(trx: Trx, workspaceId: string, stream: string): Promise<number> {
  const row = await sql<{ head_seq: number | string }>`
    INSERT INTO streams (id, workspace_id, head_seq) VALUES (${stream}, ${workspaceId}, 1)
    ON CONFLICT (id) DO UPDATE SET head_seq = streams.head_seq + 1
    RETURNING head_seq`.execute(trx);
  return Number(row.rows[0].head_seq);
}

/** Collects the events written in one transaction so they can be published after commit. */
export class EventBatch {
  readonly events: SesameEvent[] = [];

  constructor(private readonly trx: Trx, private readonly workspaceId: string) {}

  /** Writes an event; `data` may depend on the seq (e.g. a message carries its own seq). */
  async append<T>(stream: string, type: string, data: T | ((seq: number) => T), seq?: number): Promise<SesameEvent<T>> {
    const assigned = seq ?? (await nextSeq(this.trx, this.workspaceId, stream));
    const payload = typeof data === 'function' ? (data as (s: number) => T)(assigned) : data;
    const at = new Date();
    await this.trx
      .insertInto('events')
      .values({ stream, seq: assigned, workspace_id: this.workspaceId, type, data: JSON.stringify(payload), at })
      .execute();
    const event: SesameEvent<T> = { type, stream, seq: assigned, data: payload, at: at.toISOString() };
    this.events.push(event);
    return event;
  }

  /**
   * Writes several events of one stream in one statement, at seqs the caller allocated (a group
   * commit takes the stream's row lock and numbers its whole batch itself). With `write`, the
   * caller inserts the rows itself, e.g. in a statement that also writes the data they describe
   * (one round trip instead of two); they are published after commit all the same.
   */
  async appendMany<T>(
    stream: string,
    items: ReadonlyArray<{ type: string; data: T; seq: number }>,
    write?: (rows: Array<Insertable<EventTable>>) => Promise<unknown>,
  ): Promise<Array<SesameEvent<T>>> {
    if (items.length === 0) return [];
    const at = new Date();
    const rows = items.map(({ type, data, seq }) => ({ stream, seq, workspace_id: this.workspaceId, type, data: JSON.stringify(data), at }));
    await (write ? write(rows) : this.trx.insertInto('events').values(rows).execute());
    const written = items.map(({ type, data, seq }): SesameEvent<T> => ({ type, stream, seq, data, at: at.toISOString() }));
    this.events.push(...written);
    return written;
  }
}

/**
 * Publishes committed events on the bus. `dataJson[i]`, when given, is `JSON.stringify` of
 * `events[i].data` made beforehand (a group commit serialises each message once, for its reply
 * and its publish): the bus message is then built around it instead of serialised again (the
 * event's own keys, `type, stream, seq, data, at`, in that order, as group commits build them).
 */
export interface EventPublisher {
  (events: SesameEvent[], dataJson?: ReadonlyArray<string>): void;
}

/**
 * `JSON.stringify({ kind: 'event', event })`, built around `dataJson` (`JSON.stringify(event.data)`):
 * the same text, key for key, without serialising the data again.
 */
function eventBusBody(event: SesameEvent, dataJson: string): string {
  return `{"kind":"event","event":{"type":${JSON.stringify(event.type)},"stream":${JSON.stringify(event.stream)},"seq":${JSON.stringify(event.seq)},"data":${dataJson},"at":${JSON.stringify(event.at)}}}`;
}

/** Publishes committed events; a failed publish is logged, never thrown (replay repairs it). */
export function createEventPublisher(bus: Bus, onError: (err: unknown) => void): EventPublisher {
  const failed = (err: unknown) => {
    metrics.eventPublishFailures.inc();
    onError(err);
  };
  return (events, dataJson) => {
    metrics.eventsPublished.inc(events.length);
    events.forEach((event, i) => {
      const json = dataJson?.[i];
      bus.publish(event.stream, { kind: 'event', event }, json === undefined ? undefined : eventBusBody(event, json)).catch(failed);
    });
  };
}

/**
 * Runs `work` in a transaction with an event batch; after commit publishes what it wrote.
 * This is the only way services write durable events.
 */
export async function withEvents<R>(
  db: Db,
  workspaceId: string,
  publish: EventPublisher,
  work: (trx: Trx, events: EventBatch) => Promise<R>,
): Promise<R> {
  let batch!: EventBatch;
  const result = await db.transaction().execute(async (trx) => {
    batch = new EventBatch(trx, workspaceId);
    return work(trx, batch);
  });
  if (batch.events.length) publish(batch.events);
  return result;
}

/** Events of `stream` after `afterSeq`, in order, at most `limit`. */
export async function readEvents(db: Db, stream: string, afterSeq: number, limit: number): Promise<SesameEvent[]> {
  const rows = await db
    .selectFrom('events')
    .select(['type', 'stream', 'seq', 'data', 'at'])
    .where('stream', '=', stream)
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ type: r.type, stream: r.stream, seq: int8(r.seq), data: r.data, at: new Date(r.at).toISOString() }));
}

/** A stored event as text: its payload the JSON Postgres prints, `at` already in `Date#toISOString` form. */
export interface EventText { type: string; seq: number; data: string; at: string }

/**
 * `readEvents` without parsing anything per event (replay and REST pages build their JSON
 * around the payload text): one range scan of the `(stream, seq)` primary key. Postgres prints
 * jsonb with a space after `:` and `,`, which JSON readers ignore.
 *
 * The rows are picked in a subquery and printed outside it, so only the `limit` rows returned
 * are printed: a table not analysed yet (new events since the last autovacuum, e.g. right after
 * a burst of sends) gets a bitmap scan and a sort instead of the index scan, and printing in the
 * same query level then formatted every row after the cursor before sorting (measured: 11 ms for
 * a batch of 1,000 with 5,000 after the cursor, against 2 ms with the index scan). With the
 * index scan the plan is the same as without the subquery.
 */
export async function readEventTexts(db: Db, stream: string, afterSeq: number, limit: number): Promise<EventText[]> {
  const { rows } = await sql<{ type: string; seq: number | string; data: string; at: string }>`
    SELECT type, seq, data::text AS data, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
    FROM (SELECT type, seq, data, at FROM events WHERE stream = ${stream} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}) AS picked
    ORDER BY seq`.execute(db);
  return rows.map((r) => ({ type: r.type, seq: int8(r.seq), data: r.data, at: r.at }));
}

/**
 * The JSON of a stored event as `JSON.stringify` prints a `SesameEvent` (`message`: its wire
 * frame, `{…, at, message}` like `toWireEventFrame`), built around the payload text.
 */
export function eventJson(event: EventText, streamJson: string, message = false): string {
  const head = `{"type":${JSON.stringify(event.type)},"stream":${streamJson},"seq":${String(event.seq)}`;
  return message ? `${head},"at":"${event.at}","message":${event.data}}` : `${head},"data":${event.data},"at":"${event.at}"}`;
}

/**
 * Current head seq of each stream (0 for a stream with no events yet). One prepared statement
 * (`executePrepared`): the streams are one text[] parameter, read through an init plan, so its
 * text is the same whatever their number and Postgres plans it once per connection.
 */
export async function readHeads(db: Db, streams: string[]): Promise<Record<string, number>> {
  const heads: Record<string, number> = Object.fromEntries(streams.map((s) => [s, 0]));
  if (streams.length === 0) return heads;
  const { rows } = await executePrepared(db, 'sesame_read_heads',
    sql<{ id: string; head_seq: number | string }>`SELECT id, head_seq FROM streams WHERE id = ANY((SELECT ${streams}::text[])::text[])`);
  for (const row of rows) heads[row.id] = int8(row.head_seq);
  return heads;
}
