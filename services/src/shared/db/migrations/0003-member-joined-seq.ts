import { sql, type Kysely } from 'kysely';

/**
 * Where in the channel's stream a member joined: the seq of its `channel.member_added` event.
 * A resuming realtime client that has no cursor for a channel (it joined while offline) is
 * replayed from here, so it sees the channel from its own arrival on and nothing earlier.
 */
const up = [
  `ALTER TABLE channel_members ADD COLUMN joined_seq bigint NOT NULL DEFAULT 0`,
];

export const memberJoinedSeq = {
  up: (db: Kysely<any>) => runStatements(db, up),
  down: (db: Kysely<any>) => runStatements(db, ['ALTER TABLE channel_members DROP COLUMN IF EXISTS joined_seq']),
};

// Frozen with this migration: a migration never imports another file that may change later.
async function runStatements(db: Kysely<any>, statements: string[]) {
  for (const statement of statements) await sql.raw(statement).execute(db);
}
