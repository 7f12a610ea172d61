import { PRESENCE_BATCH_MS, type PresenceEventFrame } from '@sesamespace/sdk/protocol';
import { presenceTopic } from './presence.js';
import type { EphemeralFrame, StreamHub, WireFrame } from './stream-hub.js';

// Frames shared by several sessions are kept for the tick; a bound keeps a burst in which every
// session hears a different subset from holding all of them at once.
const SHARED_FRAMES_PER_TICK = 256;
// A burst (hundreds of co-members coming online at once) would cost every connection a frame each
// PRESENCE_BATCH_MS for as long as it lasts, and the gateway a write per connection per tick: while
// a tick sends more frames than this, the next one is longer in proportion, up to MAX_TICK_MS. A
// node sending fewer keeps PRESENCE_BATCH_MS.
const FRAMES_PER_TICK = 100;
const MAX_TICK_MS = 10 * PRESENCE_BATCH_MS;

/** A session as presence delivery sees it. */
export interface PresenceAudience {
  readonly principal: { readonly id: string; readonly workspace_id: string };
  /** Whether this session may hear `principalId`'s presence (shares a channel, subscribed, …). */
  hearsPresenceOf(principalId: string): boolean;
  /** Sends a `presence` (one change) or `presence_batch` frame. */
  sendPresence(frame: WireFrame | string, changes: number): void;
}

interface Workspace {
  audience: Set<PresenceAudience>;
  /** Changes heard since the last tick, each already serialised (without `type`) for the batch. */
  pending: Array<{ principalId: string; json: string; single: string }>;
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

  constructor(private readonly hub: StreamHub) {}

  /** Starts delivering to `session`; resolves once the workspace's presence topic is subscribed. */
  add(session: PresenceAudience): Promise<void> {
    const workspaceId = session.principal.workspace_id;
    let workspace = this.workspaces.get(workspaceId);
    if (!workspace) {
      const created: Workspace = { audience: new Set(), pending: [], unfollow: () => {}, ready: Promise.resolve() };
      created.ready = this.hub.follow(presenceTopic(workspaceId), { onEphemeral: (frame) => { this.heard(created, frame); } }, false)
        .then((unfollow) => {
          if (this.workspaces.get(workspaceId) === created) created.unfollow = unfollow;
          else unfollow();
        });
      this.workspaces.set(workspaceId, created);
      workspace = created;
    }
    workspace.audience.add(session);
    return workspace.ready;
  }

  remove(session: PresenceAudience): void {
    const workspaceId = session.principal.workspace_id;
    const workspace = this.workspaces.get(workspaceId);
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
    this.lastFlushAt = Date.now();
    let sent = 0;
    for (const workspace of this.workspaces.values()) {
      const changes = workspace.pending;
      if (changes.length === 0) continue;
      workspace.pending = [];
      // Most sessions hear all but their own change: frames are built from the pre-serialised
      // entries and shared between sessions that hear the same subset.
      const built = new Map<string, WireFrame>();
      for (const session of workspace.audience) {
        let key = '';
        const heard: typeof changes = [];
        for (let i = 0; i < changes.length; i++) {
          const change = changes[i];
          if (change.principalId === session.principal.id || !session.hearsPresenceOf(change.principalId)) {
            key += `${i},`;
            continue;
          }
          heard.push(change);
        }
        if (heard.length === 0) continue;
        let frame: WireFrame | string | undefined = built.get(key);
        if (frame === undefined) {
          frame = heard.length === 1 ? heard[0].single : `{"type":"presence_batch","presence":[${heard.map((c) => c.json).join(',')}]}`;
          if (built.size < SHARED_FRAMES_PER_TICK) built.set(key, (frame = Buffer.from(frame)));
        }
        session.sendPresence(frame, heard.length);
        sent++;
      }
    }
    this.tickMs = Math.min(MAX_TICK_MS, Math.max(PRESENCE_BATCH_MS, Math.round((PRESENCE_BATCH_MS * sent) / FRAMES_PER_TICK)));
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const workspace of this.workspaces.values()) workspace.unfollow();
    this.workspaces.clear();
  }
}
