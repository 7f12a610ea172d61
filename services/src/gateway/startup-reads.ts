import { INBOX_PREFIX, inboxStream } from '@sesamespace/sdk/protocol';
import { sha256 } from '../shared/auth/secrets.js';
import { sql } from 'kysely';
import { executePrepared, type Db } from '../shared/db/database.js';
import type { Principal, PrincipalTable } from '../shared/db/schema.js';
import { readHeads } from '../shared/events.js';
import { RoundTripBatch } from './round-trip-batch.js';

// Keys per statement: a burst of connections is read in a few statements, none of them huge.
const KEYS_PER_STATEMENT = 500;
// What the combined batch's items start with: an API key's hash, a stream whose head is asked
// for, or a channel whose roster is.
const KEY = 'k';
const HEAD = 'h';
const ROSTER = 'r';
// last_used_at is informational: written at most once a minute per key (as `authenticateCredential` does).
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Loads keys per round trip (`RoundTripBatch`): the keys asked for during one turn of the event
 * loop, or while a load is under way, are loaded together, each once however many ask for it. A
 * client handled while others are costs a share of one statement instead of one of its own.
 */
export class TurnBatch<K, V> {
  private waiting = new Map<K, Array<{ resolve: (value: V | undefined) => void; reject: (err: unknown) => void }>>();
  private readonly batch: RoundTripBatch<K>;

  constructor(private readonly load: (keys: K[]) => Promise<Map<K, V>>, holdNextAtMostMs?: number) {
    this.batch = new RoundTripBatch((keys) => this.loadAndAnswer(keys), { perRun: KEYS_PER_STATEMENT, ...(holdNextAtMostMs === undefined ? {} : { holdNextAtMostMs }) });
  }

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiters = this.waiting.get(key);
      if (waiters) { waiters.push({ resolve, reject }); return; }
      this.waiting.set(key, [{ resolve, reject }]);
      this.batch.add(key);
    });
  }

  private loadAndAnswer(keys: K[]): Promise<void> {
    // Asked for again from now on, a key waits for the next load.
    const waiters = keys.map((key) => { const list = this.waiting.get(key) ?? []; this.waiting.delete(key); return list; });
    let loading: Promise<Map<K, V>>;
    try {
      loading = this.load(keys);
    } catch (err) {
      loading = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return loading.then((values) => {
      keys.forEach((key, i) => { for (const waiter of waiters[i]) waiter.resolve(values.get(key)); });
    }, (err: unknown) => {
      for (const list of waiters) for (const waiter of list) waiter.reject(err);
    });
  }
}

/** An API key resolved for a realtime handshake: its caller, and when the key stops being valid. */
interface ResolvedApiKey {
  principal: Principal;
  apiKeyId: string;
  /** The key's expiry (ms since epoch), read with the key: no second read for the connection's timer. */
  expiresAt: number | undefined;
  /** The principal's channel memberships, read in the same statement (for `RealtimeSession.open`). */
  memberships: Membership[];
  /**
   * The heads of the principal's inbox and channels when the key was read, before the session
   * subscribed to them (see `RealtimeSession.open` for when they may stand in for a read after).
   */
  heads: Record<string, number>;
}

export interface Membership { channel_id: string; joined_seq: number; joined_at: Date | string }

/** A channel's members, and the channel's seq they are current at (a membership change commits both). */
export interface RosterSnapshot { seq: number; members: string[] }

type Loaded = ResolvedApiKey | null | number | RosterSnapshot;

/**
 * The reads every realtime handshake makes (its API key, its memberships, its streams' heads),
 * one statement for all the handshakes of a turn instead of one each: a thousand agents
 * connecting at once cost Postgres (and the gateway's socket writes) a few dozen statements,
 * not five thousand. Each read still happens after whatever the caller did before asking for it
 * (a head is read once the caller's subscriptions are active).
 */
export class StartupReads {
  /**
   * API keys (`k` + hash), stream heads (`h` + stream) and channel rosters (`r` + channel) asked
   * for in one round trip: one statement for all, so a burst's sessions re-checking their heads
   * once subscribed (see `RealtimeSession.open`) and the rosters of channels new to this node
   * (`ChannelRosters`) ride on the next handshakes' key statement instead of adding their own.
   */
  private readonly reads: TurnBatch<string, Loaded>;
  private readonly memberships: TurnBatch<string, Membership[]>;

  constructor(private readonly db: Db) {
    this.reads = new TurnBatch((keys) => this.load(keys));
    this.memberships = new TurnBatch(async (principalIds) => {
      const rows = await this.db.selectFrom('channel_members').select(['principal_id', 'channel_id', 'joined_seq', 'joined_at'])
        .where('principal_id', 'in', principalIds).execute();
      const byPrincipal = new Map<string, Membership[]>(principalIds.map((id) => [id, []]));
      for (const { principal_id, ...membership } of rows) byPrincipal.get(principal_id)?.push(membership);
      return byPrincipal;
    });
  }

  /**
   * The caller of an `sk_` API key, or null when it is unknown, revoked, expired or its principal
   * disabled — the checks of `authenticateCredential`, for many keys in one statement.
   */
  async apiKey(secret: string): Promise<ResolvedApiKey | null> {
    const key = await this.reads.get(`${KEY}${sha256(secret)}`);
    return key !== null && typeof key === 'object' && 'apiKeyId' in key ? key : null;
  }

  /** The principal's channel memberships. */
  async membershipsOf(principalId: string): Promise<Membership[]> {
    return (await this.memberships.get(principalId)) ?? [];
  }

  /** The current head seq of each stream (0 for a stream with no events yet). */
  async headsOf(streams: string[]): Promise<Record<string, number>> {
    const values = await Promise.all(streams.map((stream) => this.reads.get(`${HEAD}${stream}`)));
    return Object.fromEntries(streams.map((stream, i) => [stream, typeof values[i] === 'number' ? values[i] : 0]));
  }

  /** A channel's members and the seq they are current at. */
  async rosterOf(channelId: string): Promise<RosterSnapshot> {
    const roster = await this.reads.get(`${ROSTER}${channelId}`);
    return roster !== null && typeof roster === 'object' && 'members' in roster ? roster : { seq: 0, members: [] };
  }

  /** A round trip's keys and heads: with the keys' statement when there are keys, else alone. */
  private async load(items: string[]): Promise<Map<string, Loaded>> {
    const hashes: string[] = [];
    const streams: string[] = [];
    const channels: string[] = [];
    for (const item of items) (item.startsWith(KEY) ? hashes : item.startsWith(HEAD) ? streams : channels).push(item.slice(1));
    const values = new Map<string, Loaded>();
    let heads: Record<string, number> | undefined;
    let rosters: Map<string, RosterSnapshot> | undefined;
    if (hashes.length > 0) {
      const loaded = await this.loadKeys(hashes, streams, channels);
      for (const [hash, key] of loaded.keys) values.set(`${KEY}${hash}`, key);
      heads = loaded.heads;
      rosters = loaded.rosters;
    }
    // Asked for with no key, or with keys none of which was found (no row to carry them).
    const [headsAlone, rostersAlone] = await Promise.all([
      streams.length > 0 && !heads ? readHeads(this.db, streams) : undefined,
      channels.length > 0 && !rosters ? this.readRosters(channels) : undefined,
    ]);
    heads ??= headsAlone;
    rosters ??= rostersAlone;
    for (const stream of streams) values.set(`${HEAD}${stream}`, heads?.[stream] ?? 0);
    for (const channel of channels) values.set(`${ROSTER}${channel}`, rosters?.get(channel) ?? { seq: 0, members: [] });
    return values;
  }

  /** Rosters alone (`rostersColumn` as a statement of its own, prepared). */
  private async readRosters(channels: string[]): Promise<Map<string, RosterSnapshot>> {
    const { rows } = await executePrepared(this.db, 'sesame_startup_rosters', sql<{ rosters: RosterColumn | null }>`SELECT ${rostersColumn(channels)} AS rosters`);
    return rostersOf(channels, rows[0]?.rosters ?? null);
  }

  /**
   * One statement for a turn's keys: each key with its principal, the principal's memberships
   * and the heads of its inbox and channels, and last_used_at written for the valid keys whose
   * value is over a minute old. With `streams`, their heads too (undefined when no key row came
   * back to carry them: the caller reads them apart).
   */
  private async loadKeys(hashes: string[], streams: string[], channels: string[]): Promise<{
    keys: Map<string, ResolvedApiKey | null>; heads: Record<string, number> | undefined; rosters: Map<string, RosterSnapshot> | undefined;
  }> {
    const now = new Date();
    const { rows } = await executePrepared(this.db, 'sesame_startup_keys', keysStatement(hashes, streams, channels, now));
    const resolved = new Map<string, ResolvedApiKey | null>();
    let heads: Record<string, number> | undefined;
    // One row carries them (the first: see `keysStatement`).
    if (streams.length > 0 && rows.length > 0) {
      const found = rows.find((row) => row.heads !== null)?.heads ?? {};
      heads = Object.fromEntries(streams.map((stream) => [stream, Number(found[stream] ?? 0)]));
    }
    const rosters = channels.length > 0 && rows.length > 0 ? rostersOf(channels, rows.find((row) => row.rosters !== null)?.rosters ?? null) : undefined;
    for (const row of rows) {
      const { key_hash, key_id, key_expires_at, key_last_used_at: _used, valid, memberships, inbox_head, heads: _heads, rosters: _rosters, ...principal } = row;
      if (!valid || !memberships) {
        resolved.set(key_hash, null);
        continue;
      }
      const heads: Record<string, number> = { [inboxStream(principal.id)]: Number(inbox_head ?? 0) };
      for (const [channelId, , , head] of memberships) heads[channelId] = Number(head);
      resolved.set(key_hash, {
        principal, apiKeyId: key_id, expiresAt: key_expires_at ? new Date(key_expires_at).getTime() : undefined,
        memberships: memberships.map(([channel_id, joined_seq, joined_at]) => ({ channel_id, joined_seq: Number(joined_seq), joined_at })),
        heads,
      });
    }
    return { keys: resolved, heads, rosters };
  }
}

/** Channel → [head seq, member ids]: members and head read together (a membership change commits both). */
type RosterColumn = Record<string, [seq: number | string | null, members: string[] | null]>;

/**
 * The rosters of `channels` as one json value (a column of the keys' statement, or a statement
 * alone); `channels` is one text[] parameter, so the text is the same whatever their number.
 */
function rostersColumn(channels: string[]) {
  return sql`(SELECT coalesce(json_object_agg(c.id, json_build_array(
      (SELECT head_seq FROM streams WHERE id = c.id),
      ARRAY(SELECT principal_id FROM channel_members WHERE channel_id = c.id))), '{}')
    FROM unnest((SELECT ${channels}::text[])) AS c(id))`;
}

/** Every column of `principals`, as the key statement selects them (the compiler checks that none is missing or extra). */
const PRINCIPAL_COLUMN_SET: Record<keyof PrincipalTable, true> = {
  id: true, workspace_id: true, kind: true, handle: true, display_name: true, email: true, public_key: true, password_hash: true,
  is_admin: true, read_receipt_emoji: true, disabled_at: true, created_at: true,
};
const PRINCIPAL_COLUMNS = sql.join(Object.keys(PRINCIPAL_COLUMN_SET).map((column) => sql.ref(`p.${column}`)));

/**
 * The keys' statement (see `StartupReads.loadKeys`). Its text is the same for every batch (the
 * hashes, streams and channels are one text[] parameter each, empty when none are asked for), so
 * it runs as one prepared statement (`executePrepared`): each pool connection parses it once and
 * Postgres plans it once, where a list of parameters made every batch a statement of its own,
 * parsed and planned anew. Each array is read through an init plan (`(SELECT $n::text[])`): the
 * planner cannot see its size, custom plans and the generic plan are estimated alike, and the plan
 * cache settles on the generic plan (with the bare parameters a custom plan saw small batches as
 * cheaper, and every batch was planned again: about half of what a statement of a few keys cost
 * Postgres). The heads and rosters asked for (the same for every key) come on the first row only: repeated on each of a batch's rows, Postgres sent and the gateway parsed them
 * once per key.
 */
function keysStatement(hashes: string[], streams: string[], channels: string[], now: Date) {
  // The principal's columns named one by one, not `p.*`: Postgres refuses to run a prepared
  // statement whose result columns changed since it was prepared ("cached plan must not change
  // result type"), so a column added to principals by a migration (a rolling deploy's new api)
  // would fail each connection's next handshake batch.
  return sql<KeyRow>`
      WITH found AS (
        SELECT k.key_hash, k.id AS key_id, k.expires_at AS key_expires_at, k.last_used_at AS key_last_used_at, ${PRINCIPAL_COLUMNS},
               p.disabled_at IS NULL AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > (SELECT ${now}::timestamptz)) AS valid
        FROM api_keys k JOIN principals p ON p.id = k.principal_id
        WHERE k.key_hash = ANY((SELECT ${hashes}::text[])::text[])
      ), touched AS (
        UPDATE api_keys SET last_used_at = ${now}::timestamptz
        WHERE id IN (SELECT key_id FROM found WHERE valid AND (key_last_used_at IS NULL OR key_last_used_at < (SELECT ${new Date(now.getTime() - LAST_USED_RESOLUTION_MS)}::timestamptz)))
      )
      SELECT found.*, CASE WHEN valid THEN (
        SELECT coalesce(json_agg(json_build_array(m.channel_id, m.joined_seq, m.joined_at, coalesce((SELECT head_seq FROM streams s WHERE s.id = m.channel_id), 0))), '[]')
        FROM channel_members m WHERE m.principal_id = found.id
      ) END AS memberships,
      (SELECT head_seq FROM streams WHERE id = ${INBOX_PREFIX}::text || found.id) AS inbox_head,
      CASE WHEN row_number() OVER () = 1
        THEN (SELECT coalesce(json_object_agg(id, head_seq), '{}') FROM streams WHERE id = ANY((SELECT ${streams}::text[])::text[])) END AS heads,
      CASE WHEN row_number() OVER () = 1 THEN ${rostersColumn(channels)} END AS rosters
      FROM found`;
}

function rostersOf(channels: string[], column: RosterColumn | null): Map<string, RosterSnapshot> {
  return new Map(channels.map((channel) => {
    const [seq, members] = column?.[channel] ?? [0, []];
    return [channel, { seq: Number(seq ?? 0), members: members ?? [] }];
  }));
}

type KeyRow = Principal & {
  key_hash: string; key_id: string; key_expires_at: Date | string | null; key_last_used_at: Date | string | null;
  valid: boolean; memberships: Array<[channelId: string, joinedSeq: number | string, joinedAt: string, head: number | string]> | null;
  inbox_head: number | string | null;
  /** The heads asked for with the keys (on the first row; null on the others). */
  heads: Record<string, number | string> | null;
  /** The rosters asked for with the keys (on the first row; null on the others). */
  rosters: RosterColumn | null;
};
