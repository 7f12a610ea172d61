import type { Kysely } from 'kysely';
import { runStatements } from './0001-initial-schema.js';

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
