import {
  CloseCode, EventType, inboxStream, isInboxStream, MAX_PRESENCE_SUBSCRIPTIONS, PROTOCOL_VERSION, TYPING_TTL_MS,
  type AuthenticatedFrame, type Cursors, type ReplayedFrame, type ResyncFrame, type SesameEvent, type TypingEventFrame,
} from '@sesamespace/sdk/protocol';
import { randomUUID } from 'node:crypto';
import type { ServiceContext } from '../shared/context.js';
import type { Principal } from '../shared/db/schema.js';
import { readHeads } from '../shared/events.js';
import type { ChannelRosters } from './channel-rosters.js';
import type { Membership, StartupReads } from './startup-reads.js';
import type { ConnectionStatus, PresenceTracker } from './presence.js';
import type { PresenceAudience, PresenceFanout } from './presence-fanout.js';
import { StreamFollower, type FollowerOwner } from './stream-follower.js';
import { countDelivery, metrics } from '../shared/metrics.js';
import type { EphemeralFrame, StreamHub, WireFrame } from './stream-hub.js';

/** What a sink is told about a frame besides its bytes. */
interface FrameMeta { type: string; stream?: string; seq?: number }

/**
 * Where a session's frames go: a WebSocket or an SSE response. `send` never blocks; the sink
 * reports how much it holds so the session can pace replays and shed slow consumers.
 */
export interface Sink {
  /**
   * `meta.stream`/`meta.seq` are set for durable events (SSE turns them into the `id:` line).
   * `meta` is read during the call only: a session passes the same object with every delivery.
   */
  send(frame: WireFrame | string, meta: FrameMeta): void;
  bufferedAmount(): number;
  /** Closes the transport; `code` is a `CloseCode`. */
  close(code: number, reason: string): void;
}

export interface SessionDeps {
  ctx: ServiceContext;
  hub: StreamHub;
  presence: PresenceTracker;
  /** Delivers presence changes to the sessions that may hear them, batched per tick. */
  presenceFanout: PresenceFanout;
  rosters: ChannelRosters;
  /** The handshake's reads (memberships, heads), shared with the other handshakes of the turn. */
  startup: StartupReads;
}

// Replays wait while the transport holds more than this share of the buffer limit.
const REPLAY_HIGH_WATER_SHARE = 0.5;
const CAPACITY_POLL_MS = 5;
const TYPING_MIN_INTERVAL_MS = 1_000;

/**
 * One authenticated client (WebSocket or SSE): the streams it follows (its channels and its
 * inbox), membership changes applied live, typing, and its part in presence. Transport-agnostic.
 */
/** Whether `heads` has every stream, none below the client's cursor for it. */
function coversCursors(streams: string[], heads: Record<string, number>, cursors: Cursors | undefined): boolean {
  for (const stream of streams) {
    if (!(stream in heads)) return false;
    const cursor = cursors?.[stream];
    if (typeof cursor === 'number' && cursor > heads[stream]) return false;
  }
  return true;
}

/** What open() answers for a session closed during its handshake: nothing to start, nothing to begin. */
const CLOSED_OPEN: { starts: Cursors; begin: () => Promise<void> } = Object.freeze({ starts: {}, begin: () => Promise.resolve() });

export class RealtimeSession implements FollowerOwner, PresenceAudience {
  readonly id = randomUUID();
  private readonly followers = new Map<string, { follower: StreamFollower; unfollow: () => void }>();
  /** When the client last announced typing, per channel; created on first use (most sessions never type). */
  private lastTyping: Map<string, number> | undefined;
  /** Principals whose presence the client asked for (`presence_subscribe`); created on first use. */
  private presenceSubscriptions: Set<string> | undefined;
  private presenceStatus: ConnectionStatus = 'online';
  private closed = false;
  private slow = false;
  /** The meta of the durable event being sent (see `deliverEvent`). */
  private readonly deliveryMeta: { type: string; stream: string; seq: number } = { type: '', stream: '', seq: 0 };
  /**
   * The principal's memberships when the session opened: channel → [joined seq, joined at (ms)],
   * for the catch-up of the first `replay` frame; kept only until then (see `replay`).
   */
  private membershipsAtOpen: Map<string, [joinedSeq: number, joinedAtMs: number]> | undefined;
  /** Opened without cursors: the first `replay` frame is the client's resume (see `replay`). */
  private catchUpOnReplay = false;

  constructor(readonly principal: Principal, private readonly sink: Sink, private readonly deps: SessionDeps) {}

  private get ctx() { return this.deps.ctx; }

  /**
   * Follows every stream of the principal and returns where each starts (the `heads` of the
   * `authenticated` frame). Without cursors the client starts live at the current heads; with
   * cursors it is replayed from them — and from its join for channels it has no cursor for.
   * The caller sends `authenticated` with the result, then calls `begin()`. `knownMemberships`
   * and `knownHeads`: the principal's memberships and its streams' heads when they were read with
   * its credential a moment ago (in one statement).
   */
  async open(cursors: Cursors | undefined, knownMemberships?: Membership[], knownHeads?: Record<string, number>): Promise<{ starts: Cursors; begin: () => Promise<void> }> {
    const memberships = knownMemberships ?? await this.deps.startup.membershipsOf(this.principal.id);
    // Closed while we awaited (the socket went away mid-handshake): close() has already run, so
    // nothing may be followed, retained or joined any more — it would never be released.
    if (this.closed) return CLOSED_OPEN;
    const joined = new Map(memberships.map((m) => [m.channel_id, m.joined_seq]));
    const streams = [inboxStream(this.principal.id), ...joined.keys()];
    const created = streams.map((stream) => this.createFollower(stream));
    await Promise.all(created.map((c) => c.ready));
    // Closed meanwhile: close() unfollowed what was created; joining the presence audience now would leak.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by close() while we awaited (TS#9998)
    if (this.closed) return CLOSED_OPEN;
    // Presence is heard from co-members (SESAME_PRESENCE_AUDIENCE=channels, the default): rosters first.
    const resuming = Boolean(cursors && Object.keys(cursors).length > 0);
    await Promise.all([...created.map((c) => c.rostered), this.deps.presenceFanout.add(this, !resuming)]);
    // Heads are read after every subscription is active, so that nothing published later is
    // missed — or were read with the credential just before subscribing: delivery then starts at
    // a head at most a moment old, and an event committed in that moment, whose publish came
    // before the subscription, is read from Postgres once `begin` has checked the heads again
    // (see `catchUp`). Not when a cursor is past those heads (the client saw newer events
    // elsewhere): starting below it would send again what the client has, so the heads are read
    // again before answering.
    const readBefore = knownHeads !== undefined && coversCursors(streams, knownHeads, cursors);
    const heads = readBefore ? knownHeads : await this.deps.startup.headsOf(streams);
    this.deps.hub.noteHeads(heads);
    this.catchUpOnReplay = !resuming;
    if (this.catchUpOnReplay) this.membershipsAtOpen = new Map(memberships.map((m) => [m.channel_id, [m.joined_seq, new Date(m.joined_at).getTime()]]));
    const starts: Cursors = {};
    for (const stream of streams) {
      const head = heads[stream] ?? 0;
      const cursor = cursors?.[stream];
      let start = head;
      if (typeof cursor === 'number' && Number.isSafeInteger(cursor) && cursor >= 0) start = Math.min(cursor, head);
      else if (resuming && joined.has(stream)) start = Math.min(Math.max(0, (joined.get(stream) ?? 1) - 1), head);
      starts[stream] = start;
    }
    // close() has marked this session offline and left the audience: do not come back online.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by close() while we awaited (TS#9998)
    if (this.closed) return CLOSED_OPEN;
    void this.deps.presence.set({ id: this.principal.id, workspaceId: this.principal.workspace_id }, this.id, 'online');
    const begin = async () => {
      const begun = Promise.all(created.map(async ({ stream }) => this.followers.get(stream)?.follower.begin(starts[stream], heads[stream] ?? 0)));
      if (readBefore) await this.catchUp(streams, heads);
      await begun;
    };
    return { starts, begin };
  }

  /**
   * Heads read before the subscriptions were active may have moved before they were: an event
   * committed in between was published to no one here, and on a quiet stream nothing else would
   * show it before the hub's head poll (up to two poll intervals). So once delivery has begun,
   * the heads are read once more — with those of the other handshakes of the round trip, one
   * statement for a burst's worth (`StartupReads.headsOf`) — and every stream that moved is
   * filled from Postgres at once (the follower sends each event once, in order, whether it comes
   * this way or live).
   */
  private async catchUp(streams: string[], before: Record<string, number>): Promise<void> {
    let now: Record<string, number>;
    try {
      now = await this.deps.startup.headsOf(streams);
    } catch (err) {
      this.ctx.logger.warn({ err, session: this.id }, 'heads check after subscribing failed; the head poll covers it');
      return;
    }
    if (this.closed) return;
    this.deps.hub.noteHeads(now);
    for (const stream of streams) {
      const head = now[stream] ?? 0;
      if (head > (before[stream] ?? 0)) this.followers.get(stream)?.follower.onHead(head);
    }
  }

  /** Reads a stream's events for this session's followers (one function for all of them). */
  private readonly readEvents = (stream: string, afterSeq: number, limit: number) => this.deps.hub.read(stream, afterSeq, limit);

  /** The follower's view of its stream's head, in a scope of its own: it holds nothing else. */
  private knownHeadOf(stream: string): () => number {
    const hub = this.deps.hub;
    return () => hub.knownHead(stream);
  }

  private createFollower(stream: string): { stream: string; ready: Promise<void>; rostered: Promise<void> } {
    const follower = new StreamFollower(stream, this, this.readEvents, this.ctx.config.SESAME_REPLAY_BATCH_SIZE, this.knownHeadOf(stream));
    const entry = { follower, unfollow: () => {} };
    this.followers.set(stream, entry);
    const ready = this.deps.hub.follow(stream, follower).then((unfollow) => {
      if (this.followers.get(stream) === entry && !this.closed) entry.unfollow = unfollow;
      else unfollow();
    });
    const rostered = isInboxStream(stream) || this.ctx.config.SESAME_PRESENCE_AUDIENCE !== 'channels' ? Promise.resolve() : this.deps.rosters.retain(stream);
    return { stream, ready, rostered };
  }

  /** Starts following a channel the principal just joined, from its `member_added` event. */
  private async followChannel(channelId: string, afterSeq: number): Promise<void> {
    if (this.closed || this.followers.has(channelId)) return;
    // The inbox may be replaying old history: follow only if the membership still holds.
    const member = await this.ctx.db.selectFrom('channel_members').select('joined_seq')
      .where('channel_id', '=', channelId).where('principal_id', '=', this.principal.id).executeTakeFirst();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changed by another method while we awaited (TypeScript keeps the narrowing, TS#9998)
    if (!member || this.closed || this.followers.has(channelId)) return;
    const { ready, rostered } = this.createFollower(channelId);
    await Promise.all([ready, rostered]);
    const heads = await readHeads(this.ctx.db, [channelId]);
    this.deps.hub.noteHeads(heads);
    const start = Math.min(Math.max(afterSeq, member.joined_seq - 1, 0), heads[channelId] ?? 0);
    await this.followers.get(channelId)?.follower.begin(start, heads[channelId] ?? 0);
  }

  private unfollowChannel(channelId: string): void {
    const entry = this.followers.get(channelId);
    if (!entry) return;
    this.followers.delete(channelId);
    entry.follower.stop();
    entry.unfollow();
    if (!isInboxStream(channelId) && this.ctx.config.SESAME_PRESENCE_AUDIENCE === 'channels') this.deps.rosters.release(channelId);
  }

  // ---- FollowerOwner --------------------------------------------------------------------

  deliverEvent(stream: string, event: SesameEvent, frame: WireFrame): void {
    if (this.closed) return;
    countDelivery();
    // One object per session, filled anew for each event: a fan-out to a thousand sessions
    // allocates no meta object per delivery (the sink reads it during the call only).
    const meta = this.deliveryMeta;
    meta.type = event.type;
    meta.stream = stream;
    meta.seq = event.seq;
    this.sink.send(frame, meta);
    this.checkBuffer();
    this.deps.rosters.observe(stream, event);
    this.applyMembership(stream, event);
  }

  deliverEphemeral(_topic: string, frame: EphemeralFrame, serialized: WireFrame): void {
    if (this.closed) return;
    if (frame.principalId === this.principal.id) return; // your own typing
    this.sink.send(serialized, { type: frame.type });
    this.checkBuffer();
  }

  // ---- PresenceAudience -----------------------------------------------------------------

  hearsPresenceOf(principalId: string): boolean {
    if (this.ctx.config.SESAME_PRESENCE_AUDIENCE === 'workspace' || this.presenceSubscriptions?.has(principalId)) return true;
    return this.deps.rosters.sharesChannel(this.followers.keys(), principalId);
  }

  /** Sessions following the same channels hear the same principals (unless one subscribed to more). */
  presenceGroup(): string | undefined {
    if (this.ctx.config.SESAME_PRESENCE_AUDIENCE === 'workspace') return '*';
    if (this.presenceSubscriptions) return undefined;
    let key = '';
    for (const stream of this.followers.keys()) if (!isInboxStream(stream)) key += `${stream}\n`;
    return key;
  }

  sendPresence(frame: WireFrame, changes: number): void {
    if (this.closed) return;
    metrics.presenceFrames.inc();
    this.sink.send(frame, { type: changes === 1 ? 'presence' : 'presence_batch' });
    this.checkBuffer();
  }

  resync(stream: string, fromSeq: number, oldestSeq: number): void {
    const frame: ResyncFrame = { type: 'resync', stream, fromSeq, oldestSeq, reason: 'events before oldestSeq are beyond retention' };
    this.sendControl(frame);
  }

  replayed(stream: string, seq: number): void {
    metrics.replays.inc();
    this.sendControl({ type: 'replayed', stream, seq } as ReplayedFrame);
  }

  failed(stream: string, err: unknown): void {
    this.ctx.logger.warn({ err, stream, session: this.id }, 'replay failed; the head poll retries it');
  }

  roomFor(frames: readonly WireFrame[]): boolean {
    let bytes = this.sink.bufferedAmount();
    for (const frame of frames) bytes += frame.length;
    return !this.closed && bytes <= this.ctx.config.SESAME_SEND_BUFFER_BYTES * REPLAY_HIGH_WATER_SHARE;
  }

  waitForCapacity(): Promise<void> | undefined {
    const limit = this.ctx.config.SESAME_SEND_BUFFER_BYTES * REPLAY_HIGH_WATER_SHARE;
    const full = () => !this.closed && this.sink.bufferedAmount() > limit;
    if (!full()) return undefined;
    return (async () => {
      while (full()) await new Promise((r) => setTimeout(r, CAPACITY_POLL_MS));
    })();
  }

  // ---- client requests ------------------------------------------------------------------

  /**
   * `replay {cursors}`: send again everything after these cursors (streams not followed are
   * ignored), then `replayed {stream, seq}` for each stream replayed — at least one frame per
   * request, even when there was nothing to send (the inbox's, if the request named no stream
   * this session follows).
   *
   * Existing clients resume this way: `auth` without cursors (the session starts live at the
   * heads), then `replay` with the channels they know. The first `replay` of such a session is
   * therefore also the resume of everything the client cannot name: see `offlineCatchUp`.
   */
  async replay(cursors: Cursors): Promise<void> {
    const rewinds = new Map<string, number>();
    for (const [stream, seq] of Object.entries(cursors)) if (this.followers.has(stream)) rewinds.set(stream, seq);
    if (this.catchUpOnReplay) {
      this.catchUpOnReplay = false;
      const catchUp = await this.offlineCatchUp(cursors, this.membershipsAtOpen ?? new Map<string, [number, number]>());
      this.membershipsAtOpen = undefined;
      for (const [stream, seq] of catchUp) if (!rewinds.has(stream)) rewinds.set(stream, seq);
    }
    const inbox = inboxStream(this.principal.id);
    if (rewinds.size === 0) rewinds.set(inbox, this.followers.get(inbox)?.follower.position ?? 0);
    await Promise.all([...rewinds].map(async ([stream, seq]) => {
      const follower = this.followers.get(stream)?.follower;
      if (!follower) return;
      await follower.rewind(seq);
      if (this.followers.get(stream)?.follower === follower) this.replayed(stream, follower.position);
    }));
  }

  /**
   * Where to replay the streams a resuming client did not name, when it resumes by `replay`
   * frame: the time of the newest event its cursors name is when it was last known online.
   * Channels joined since then are replayed from the join (their `member_added` on), as a
   * resume with cursors in `auth` does; the inbox from its first event since then. Channels it
   * was already in but does not track stay live. Named nothing usable (cursors of 0): every
   * channel from its join and the whole inbox, as for a client that has seen nothing.
   */
  private async offlineCatchUp(cursors: Cursors, membershipsAtOpen: Map<string, [joinedSeq: number, joinedAtMs: number]>): Promise<Map<string, number>> {
    const seen = Object.entries(cursors).filter(([stream, seq]) => seq > 0 && this.followers.has(stream));
    let onlineAt: number | undefined;
    if (seen.length > 0) {
      const row = await this.ctx.db.selectFrom('events').select((eb) => eb.fn.max('at').as('at'))
        .where((eb) => eb.or(seen.map(([stream, seq]) => eb.and([eb('stream', '=', stream), eb('seq', '=', seq)]))))
        .executeTakeFirst();
      if (row?.at) onlineAt = new Date(row.at).getTime();
    }
    const starts = new Map<string, number>();
    for (const [channelId, [joinedSeq, joinedAt]] of membershipsAtOpen) {
      if (channelId in cursors || (onlineAt !== undefined && joinedAt < onlineAt)) continue;
      starts.set(channelId, Math.max(0, joinedSeq - 1));
    }
    const inbox = inboxStream(this.principal.id);
    if (!(inbox in cursors)) {
      let start = 0;
      if (onlineAt !== undefined) {
        const row = await this.ctx.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('seq'))
          .where('stream', '=', inbox).where('at', '<', new Date(onlineAt)).executeTakeFirst();
        start = row?.seq == null ? 0 : row.seq;
      }
      starts.set(inbox, start);
    }
    return starts;
  }

  /** `typing {channelId}`: announced to the channel's other members, at most once a second. */
  async typing(channelId: string): Promise<boolean> {
    if (!this.followers.has(channelId) || isInboxStream(channelId)) return false;
    const now = Date.now();
    const lastTyping = (this.lastTyping ??= new Map());
    if (now - (lastTyping.get(channelId) ?? 0) < TYPING_MIN_INTERVAL_MS) return true;
    lastTyping.set(channelId, now);
    const frame: TypingEventFrame = {
      type: 'typing', channelId, principalId: this.principal.id, handle: this.principal.handle,
      expiresAt: new Date(now + TYPING_TTL_MS).toISOString(),
    };
    await this.deps.hub.publishEphemeral(channelId, frame as unknown as EphemeralFrame);
    return true;
  }

  /** `presence_subscribe`: false (and nothing added) when it would pass the per-connection cap. */
  subscribePresence(principalIds: string[]): boolean {
    const subscriptions = this.presenceSubscriptions ?? new Set<string>();
    const added = principalIds.filter((id) => !subscriptions.has(id));
    if (subscriptions.size + new Set(added).size > MAX_PRESENCE_SUBSCRIPTIONS) return false;
    for (const id of added) subscriptions.add(id);
    this.presenceSubscriptions = subscriptions;
    return true;
  }

  unsubscribePresence(principalIds: string[]): void {
    for (const id of principalIds) this.presenceSubscriptions?.delete(id);
    if (this.presenceSubscriptions?.size === 0) this.presenceSubscriptions = undefined;
  }

  setPresence(status: ConnectionStatus): void {
    if (this.closed || status === this.presenceStatus) return;
    this.presenceStatus = status;
    void this.deps.presence.set({ id: this.principal.id, workspaceId: this.principal.workspace_id }, this.id, status);
  }

  /** The `authenticated` frame, announcing where each stream's delivery starts. */
  authenticatedFrame(starts: Cursors): AuthenticatedFrame {
    const p = this.principal;
    return {
      type: 'authenticated', protocolVersion: PROTOCOL_VERSION, heartbeatIntervalMs: this.ctx.config.SESAME_HEARTBEAT_INTERVAL_MS,
      sessionId: this.id, principal: { id: p.id, handle: p.handle, kind: p.kind, workspaceId: p.workspace_id }, heads: starts,
    };
  }

  /** Heads of the followed streams as this node knows them (sent in `pong`). */
  heads(): Cursors {
    const heads: Cursors = {};
    for (const [stream, { follower }] of this.followers) heads[stream] = Math.max(follower.position, this.deps.hub.knownHead(stream));
    return heads;
  }

  /** Stops following everything and leaves presence. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of [...this.followers.keys()]) this.unfollowChannel(stream);
    this.deps.presenceFanout.remove(this);
    void this.deps.presence.set({ id: this.principal.id, workspaceId: this.principal.workspace_id }, this.id, 'offline');
  }

  private sendControl(frame: { type: string } & object): void {
    if (this.closed) return;
    this.sink.send(JSON.stringify(frame), { type: frame.type });
  }

  private checkBuffer(): void {
    if (!this.slow && this.sink.bufferedAmount() > this.ctx.config.SESAME_SEND_BUFFER_BYTES) {
      this.slow = true;
      metrics.slowConsumerCloses.inc();
      this.ctx.logger.info({ session: this.id, principal: this.principal.id, buffered: this.sink.bufferedAmount() }, 'closing slow consumer');
      this.sink.close(CloseCode.SlowConsumer, 'slow consumer: send buffer overflow; resume from your cursor');
    }
  }

  /**
   * Membership changes take effect in stream order: a `member_removed` of ours on a channel is
   * the last event of that channel we deliver; a `member_added` in our inbox starts the channel.
   */
  private applyMembership(stream: string, event: SesameEvent): void {
    // The type first: a replayed event parses its payload only when `data` is read.
    if (event.type !== EventType.MemberRemoved && event.type !== EventType.MemberAdded) return;
    const data = event.data as { channelId?: string; principalId?: string; channelSeq?: number } | null;
    const channelId = data?.channelId;
    if (!data || data.principalId !== this.principal.id || !channelId) return;
    if (event.type === EventType.MemberRemoved) {
      this.unfollowChannel(channelId);
    } else if (isInboxStream(stream)) {
      void this.followChannel(channelId, Math.max(0, (data.channelSeq ?? 1) - 1)).catch((err: unknown) => { this.failed(channelId, err); });
    }
  }
}
