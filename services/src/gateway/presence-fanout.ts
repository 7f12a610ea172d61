import { PRESENCE_BATCH_MS, type PresenceEventFrame } from '@sesamespace/sdk/protocol';
import { presenceTopic } from './presence.js';
import type { EphemeralFrame, StreamHub, WireFrame } from './stream-hub.js';
import { allocTextPayload } from './websocket-frames.js';

// Frames built for sessions of no group (see `presenceGroup`) are shared by those hearing the
// same subset; a bound keeps a tick in which every one hears a different subset from holding all.
const SHARED_FRAMES_PER_TICK = 256;
// A burst (hundreds of co-members coming online at once) would cost every connection a frame each
// PRESENCE_BATCH_MS for as long as it lasts, and the gateway a write per connection per tick: while
// a tick sends more frames than FRAMES_PER_TICK, the next one is longer in proportion — and longer
// again in proportion to its changes past CHANGES_PER_TICK (the burst's size: the more agents come
// online per tick, the more a longer tick gathers into one frame) — up to MAX_TICK_MS. A node
// sending fewer frames of few changes keeps PRESENCE_BATCH_MS.
const FRAMES_PER_TICK = 100;
const CHANGES_PER_TICK = 10;
const MAX_TICK_MS = 20 * PRESENCE_BATCH_MS;
// A burst-sized tick (CHANGES_PER_TICK or more changes) that comes due while handshakes are under
// way on this node waits for them, checking again every PRESENCE_BATCH_MS, but never longer than
// this past its due time. A smaller tick goes when due: a node with steady connection churn
// nearly always has a handshake under way, and its presence must not lag for it.
const HANDSHAKE_DEFER_MAX_MS = MAX_TICK_MS;

/** A session as presence delivery sees it. */
export interface PresenceAudience {
  readonly principal: { readonly id: string; readonly workspace_id: string };
  /** Whether this session may hear `principalId`'s presence (shares a channel, subscribed, …). */
  hearsPresenceOf(principalId: string): boolean;
  /**
   * Sessions answering the same key hear the same principals (their own changes apart): a tick
   * asks `hearsPresenceOf` once per key and change, not once per session. Undefined: this session
   * is asked alone.
   */
  presenceGroup?(): string | undefined;
  /** Sends a `presence` (one change) or `presence_batch` frame. */
  sendPresence(frame: WireFrame, changes: number): void;
}

interface Change { principalId: string; json: string; single: string }

const BATCH_HEAD = Buffer.from('{"type":"presence_batch","presence":[');
const BATCH_TAIL = Buffer.from(']}');

/**
 * The changes a group of sessions hears in a tick, joined once (`body`, UTF-8 bytes): the frame
 * of a session that hears all but a few of them (its own changes) is copied from it, byte ranges
 * into one buffer, neither joined as a string nor encoded again per session (in a burst of a
 * thousand co-members every frame holds hundreds of changes).
 */
class HeardChanges {
  private body: Buffer | undefined;
  /** Where each heard change starts in `body` (bytes), and where the body ends. */
  private readonly starts: number[] = [];
  /** The frame of all of them, built once and shared. */
  private whole: WireFrame | undefined;
  /** The `presence` frame of a lone change, by position. */
  private singles: Map<number, Buffer> | undefined;

  /** Each heard change's position in `indices`, by its index in `changes` (built on first use). */
  private positions: Map<number, number> | undefined;

  constructor(readonly changes: Change[], readonly indices: number[]) {}

  /** The position in `indices` of `changes[index]`, or -1 when the group does not hear it. */
  positionOf(index: number): number {
    if (!this.positions) {
      this.positions = new Map();
      this.indices.forEach((i, position) => this.positions?.set(i, position));
    }
    return this.positions.get(index) ?? -1;
  }

  /** All of them, or none left out (one buffer for the group). */
  all(): WireFrame {
    this.whole ??= this.indices.length === 1 ? this.single(0) : Buffer.concat([BATCH_HEAD, this.joined(), BATCH_TAIL]);
    return this.whole;
  }

  /** The position in `indices` of the first heard change at index `index` of `changes` or later. */
  firstFrom(index: number): number {
    // `indices` ascend: a binary search (in a burst every fresh member of a group asks, each with its own join point).
    let low = 0;
    let high = this.indices.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.indices[middle] < index) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Those from position `from` on, but the positions in `left` (ascending); undefined when none are left. */
  some(from: number, left: readonly number[]): { frame: WireFrame; count: number } | undefined {
    const body = this.joined();
    const starts = this.starts;
    const end = this.indices.length;
    // Runs [a, b) of kept positions; a run's bytes are body[starts[a], starts[b] - 1) (the comma after it left out).
    const runs: number[] = [];
    let count = 0;
    let bytes = 0;
    let runStart = from;
    const run = (a: number, b: number) => {
      if (b <= a) return;
      count += b - a;
      runs.push(a, b);
      bytes += starts[b] - 1 - starts[a] + 1; // its bytes and a comma before the next run
    };
    for (const position of left) {
      if (position < runStart) continue;
      run(runStart, position);
      runStart = position + 1;
    }
    run(runStart, end);
    if (count === 0) return undefined;
    if (count === 1) return { frame: this.single(runs[0]), count };
    // With room for its WebSocket header in front: the socket write takes it as it is (one copy per member, not two).
    const frame = allocTextPayload(BATCH_HEAD.length + bytes - 1 + BATCH_TAIL.length);
    let at = BATCH_HEAD.copy(frame, 0);
    for (let r = 0; r < runs.length; r += 2) {
      if (r > 0) frame[at++] = 0x2c; // ','
      at += body.copy(frame, at, starts[runs[r]], starts[runs[r + 1]] - 1);
    }
    BATCH_TAIL.copy(frame, at);
    return { frame, count };
  }

  private single(position: number): Buffer {
    const singles = (this.singles ??= new Map<number, Buffer>());
    let frame = singles.get(position);
    if (!frame) singles.set(position, (frame = Buffer.from(this.changes[this.indices[position]].single)));
    return frame;
  }

  /** The heard changes' JSON joined by commas; `starts` gets each one's offset, then the end + 1. */
  private joined(): Buffer {
    if (this.body === undefined) {
      let offset = 0;
      const jsons = this.indices.map((i) => {
        this.starts.push(offset);
        const json = this.changes[i].json;
        offset += Buffer.byteLength(json) + 1;
        return json;
      });
      this.starts.push(offset);
      this.body = Buffer.from(jsons.join(','));
    }
    return this.body;
  }
}

interface Workspace {
  audience: Set<PresenceAudience>;
  /** Changes heard since the last tick, each already serialised (without `type`) for the batch. */
  pending: Change[];
  /**
   * Fresh sessions (opened without cursors) that joined while changes were pending, with how
   * many there were: those came before the session could hear them, and its client starts from
   * the presence it reads over REST (which has them), so its first tick sends it the later ones.
   */
  joinedAt: Map<PresenceAudience, number> | undefined;
  unfollow: () => void;
  ready: Promise<void>;
}

/**
 * Presence delivery on one node: one bus subscription per workspace (not one per session), and
 * the changes of a tick (`PRESENCE_BATCH_MS`) sent to each session as one frame holding those
 * it may hear. When n agents come online together, each session then receives a frame per tick
 * instead of one per agent, and only about the principals it shares a channel with — and ticks
 * lengthen while they send many frames (`FRAMES_PER_TICK`), so a burst costs a connection a few
 * frames, not one every 50 ms for as long as it lasts.
 */
export class PresenceFanout {
  private readonly workspaces = new Map<string, Workspace>();
  private timer: NodeJS.Timeout | undefined;
  /** How long the next tick gathers changes: PRESENCE_BATCH_MS, longer after a tick of many frames. */
  private tickMs = PRESENCE_BATCH_MS;
  private lastFlushAt = 0;
  /** WebSocket handshakes under way on this node (see `handshakeBegan`). */
  private handshakes = 0;
  /** When the pending tick came due, while it waits for handshakes (undefined: not waiting). */
  private dueAt: number | undefined;

  constructor(private readonly hub: StreamHub) {}

  /**
   * Starts delivering to `session`; resolves once the workspace's presence topic is subscribed.
   * `fresh`: the session was opened without cursors (a client starting anew, not resuming).
   */
  add(session: PresenceAudience, fresh = false): Promise<void> {
    const workspaceId = session.principal.workspace_id;
    let workspace = this.workspaces.get(workspaceId);
    if (!workspace) {
      const created: Workspace = { audience: new Set(), pending: [], joinedAt: undefined, unfollow: () => {}, ready: Promise.resolve() };
      created.ready = this.hub.follow(presenceTopic(workspaceId), { onEphemeral: (frame) => { this.heard(created, frame); } }, false)
        .then((unfollow) => {
          if (this.workspaces.get(workspaceId) === created) created.unfollow = unfollow;
          else unfollow();
        });
      this.workspaces.set(workspaceId, created);
      workspace = created;
    }
    // A session that joins mid-tick hears the tick's changes from before it joined too when it
    // resumes (opened with cursors): it may be a client reconnecting within the tick, owed what
    // its last connection had not been sent yet (the SDK does not re-read presence over REST after
    // a reconnect); a status heard twice is harmless. A fresh one starts from the presence its
    // client reads (REST), which has them: in a burst of a thousand co-members coming online
    // together, hearing each tick's earlier changes again made every member's frames hold about
    // everyone, not those who came after it.
    workspace.audience.add(session);
    if (fresh && workspace.pending.length > 0) (workspace.joinedAt ??= new Map()).set(session, workspace.pending.length);
    return workspace.ready;
  }

  /**
   * A handshake began (its auth frame arrived) or ended (open, refused or gone): a burst-sized tick
   * that comes due meanwhile waits for the handshakes under way, up to `HANDSHAKE_DEFER_MAX_MS`. In a burst of
   * co-members coming online, a tick's frames carry about everyone who came online in it: sent
   * mid-burst, their bytes (≈ n²/2 changes for n members of one channel) compete with the
   * handshakes for the CPU; sent once the burst is over, each member gets them in fewer frames, and
   * the agents still connecting are online sooner. Each `handshakeBegan` is matched by one
   * `handshakeEnded`.
   */
  handshakeBegan(): void {
    this.handshakes++;
  }

  handshakeEnded(): void {
    this.handshakes = Math.max(0, this.handshakes - 1);
  }

  remove(session: PresenceAudience): void {
    const workspaceId = session.principal.workspace_id;
    const workspace = this.workspaces.get(workspaceId);
    workspace?.joinedAt?.delete(session);
    if (!workspace?.audience.delete(session) || workspace.audience.size > 0) return;
    this.workspaces.delete(workspaceId);
    workspace.unfollow();
  }

  /** A `presence` change, or a `presence_batch` of the changes a node published in one turn. */
  private heard(workspace: Workspace, frame: EphemeralFrame): void {
    if (frame.type === 'presence') this.change(workspace, frame as unknown as PresenceEventFrame);
    else if (frame.type === 'presence_batch' && Array.isArray(frame.presence)) {
      for (const change of frame.presence as unknown[]) if (change && typeof change === 'object') this.change(workspace, change as PresenceEventFrame);
    }
  }

  private change(workspace: Workspace, { principalId, status, at }: Omit<PresenceEventFrame, 'type'>): void {
    if (typeof principalId !== 'string') return;
    const json = JSON.stringify({ principalId, status, at });
    workspace.pending.push({ principalId, json, single: `{"type":"presence",${json.slice(1)}` });
    if (!this.timer) {
      // A change after a quiet spell (longer than the lengthened tick) is not held for a burst that is over.
      if (Date.now() - this.lastFlushAt > this.tickMs) this.tickMs = PRESENCE_BATCH_MS;
      this.timer = setTimeout(() => { this.flush(); }, this.tickMs);
    }
  }

  /** Sends each session the tick's changes it may hear, in the order they happened. */
  private flush(): void {
    this.timer = undefined;
    const now = Date.now();
    if (this.handshakes > 0 && this.pendingAtLeast(CHANGES_PER_TICK)) {
      this.dueAt ??= now;
      if (now - this.dueAt < HANDSHAKE_DEFER_MAX_MS) {
        this.timer = setTimeout(() => { this.flush(); }, Math.min(PRESENCE_BATCH_MS, this.dueAt + HANDSHAKE_DEFER_MAX_MS - now));
        return;
      }
    }
    this.dueAt = undefined;
    this.lastFlushAt = now;
    let sent = 0;
    let heardChanges = 0;
    for (const workspace of this.workspaces.values()) {
      const changes = workspace.pending;
      if (changes.length === 0) continue;
      heardChanges += changes.length;
      workspace.pending = [];
      const joinedAt = workspace.joinedAt;
      workspace.joinedAt = undefined;
      // Each session's own changes (never sent to it), by principal.
      const own = new Map<string, number[]>();
      changes.forEach((change, i) => {
        const list = own.get(change.principalId);
        if (list) list.push(i);
        else own.set(change.principalId, [i]);
      });
      const groups = new Map<string, HeardChanges>();
      const built = new Map<string, WireFrame>();
      for (const session of workspace.audience) {
        const mine = own.get(session.principal.id);
        const group = session.presenceGroup?.();
        let heard: HeardChanges | undefined = group === undefined ? undefined : groups.get(group);
        if (!heard) {
          const indices: number[] = [];
          for (let i = 0; i < changes.length; i++) if (session.hearsPresenceOf(changes[i].principalId)) indices.push(i);
          heard = new HeardChanges(changes, indices);
          if (group !== undefined) groups.set(group, heard);
        }
        const indices = heard.indices;
        if (indices.length === 0) continue;
        // The position (in `indices`) of the first change heard after a fresh session joined.
        const joined = joinedAt?.get(session);
        const from = joined === undefined ? 0 : heard.firstFrom(joined);
        // Positions of what this session does not get besides: its own changes.
        const left = mine ? mine.map((i) => heard.positionOf(i)).filter((p) => p >= from) : [];
        if (from === 0 && left.length === 0) {
          session.sendPresence(heard.all(), indices.length);
          sent++;
          continue;
        }
        const some = heard.some(from, left);
        if (!some) continue;
        let frame = some.frame;
        // Sessions of no group hearing the same subset share a buffer.
        if (group === undefined) {
          const key = `${String(from)}:${String(indices.length)}:${left.join(',')}:${indices.join(',')}`;
          const shared = built.get(key);
          if (shared) frame = shared;
          else if (built.size < SHARED_FRAMES_PER_TICK) built.set(key, frame);
        }
        session.sendPresence(frame, some.count);
        sent++;
      }
    }
    const burst = Math.max(1, heardChanges / CHANGES_PER_TICK);
    this.tickMs = Math.min(MAX_TICK_MS, Math.max(PRESENCE_BATCH_MS, Math.round((PRESENCE_BATCH_MS * sent * burst) / FRAMES_PER_TICK)));
  }

  /** Whether the workspaces hold `count` changes or more for the next tick. */
  private pendingAtLeast(count: number): boolean {
    let pending = 0;
    for (const workspace of this.workspaces.values()) {
      pending += workspace.pending.length;
      if (pending >= count) return true;
    }
    return false;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const workspace of this.workspaces.values()) workspace.unfollow();
    this.workspaces.clear();
  }
}
