import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { sql } from 'kysely';
import type { Db } from '../shared/db/database.js';
import { eventJson, readEventTexts } from '../shared/events.js';
import type { HubEvent } from './stream-hub.js';

const UNPARSED: unique symbol = Symbol('unparsed');

/**
 * A stored event as replay reads it: its payload stays the JSON text Postgres returned, parsed
 * only if someone reads `data` (the session does for membership events; a message needs only
 * its frame). Serialises like a plain `SesameEvent`.
 */
class StoredEvent implements SesameEvent {
  private parsed: unknown = UNPARSED;

  constructor(readonly type: string, readonly stream: string, readonly seq: number, readonly at: string, private readonly text: string) {}

  get data(): unknown {
    if (this.parsed === UNPARSED) this.parsed = JSON.parse(this.text);
    return this.parsed;
  }

  toJSON(): SesameEvent {
    return { type: this.type, stream: this.stream, seq: this.seq, data: this.data, at: this.at };
  }
}

/**
 * Events of `stream` after `afterSeq`, in seq order, at most `limit`, each with its wire frame
 * built once around the stored payload text: what `JSON.stringify(toWireEventFrame(event))`
 * gives for the parsed event, in the same key order, with no parse or re-serialisation.
 */
export async function readEventFrames(db: Db, stream: string, afterSeq: number, limit: number): Promise<HubEvent[]> {
  const rows = await readEventTexts(db, stream, afterSeq, limit);
  const streamJson = JSON.stringify(stream);
  return rows.map((row) => ({
    event: new StoredEvent(row.type, stream, row.seq, row.at, row.data),
    frame: Buffer.from(eventJson(row, streamJson, row.type === 'message')),
  }));
}

/**
 * The heads of the streams of `known` (stream id → the head this node last read for it) that
 * differ from it, or that exist, for a stream known as -1 (not read yet); a stream known at a
 * head above 0 whose row is gone (its workspace deleted: the row cascades) answers 0, as one
 * that never existed would, rather than nothing, which would keep its last head. One statement whose
 * one parameter is `known` as JSON: a head poll over thousands of followed streams (every
 * connection's inbox) sends one text and gets back the few heads that moved, not a row per
 * stream to parse, nor a parameter per stream to bind.
 */
export async function readMovedHeads(db: Db, known: Readonly<Record<string, number>>): Promise<Map<string, number>> {
  const { rows } = await sql<{ id: string; head_seq: number | string }>`
    SELECT k.id, coalesce(s.head_seq, 0) AS head_seq FROM json_each_text(${JSON.stringify(known)}::json) AS k (id, head)
    LEFT JOIN streams s ON s.id = k.id WHERE s.head_seq <> k.head::bigint OR (s.id IS NULL AND k.head::bigint > 0)`.execute(db);
  return new Map(rows.map((row) => [row.id, Number(row.head_seq)]));
}
