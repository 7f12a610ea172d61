import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { sql } from 'kysely';
import type { Db } from '../shared/db/database.js';
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
 * The wire frame of a stored event, built around its payload's JSON text: what
 * `JSON.stringify(toWireEventFrame(event))` gives for the parsed event, in the same key order
 * (`message` instead of `data` for messages), without parsing and re-serialising the payload.
 * Postgres prints jsonb with a space after `:` and `,`, which JSON readers ignore.
 */
export function storedEventFrame(type: string, streamJson: string, seq: number, at: string, dataText: string): string {
  const head = `{"type":${JSON.stringify(type)},"stream":${streamJson},"seq":${String(seq)}`;
  return type === 'message' ? `${head},"at":"${at}","message":${dataText}}` : `${head},"data":${dataText},"at":"${at}"}`;
}

interface StoredRow { type: string; seq: number | string; data: string; at: string }

/**
 * Events of `stream` after `afterSeq`, in seq order, at most `limit`, each with its wire frame:
 * one range scan of the `(stream, seq)` primary key; the payload comes back as text and `at`
 * already in ISO form (what `Date#toISOString` prints), so nothing is parsed per event.
 */
export async function readEventFrames(db: Db, stream: string, afterSeq: number, limit: number): Promise<HubEvent[]> {
  const { rows } = await sql<StoredRow>`
    SELECT type, seq, data::text AS data, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
    FROM events WHERE stream = ${stream} AND seq > ${afterSeq} ORDER BY seq LIMIT ${limit}`.execute(db);
  const streamJson = JSON.stringify(stream);
  return rows.map((row) => {
    const seq = Number(row.seq);
    return {
      event: new StoredEvent(row.type, stream, seq, row.at, row.data),
      frame: Buffer.from(storedEventFrame(row.type, streamJson, seq, row.at, row.data)),
    };
  });
}
