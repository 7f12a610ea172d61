import { EventType, type SesameEvent } from '@sesamespace/sdk/protocol';
import type { RosterSnapshot } from './startup-reads.js';

interface Roster {
  members: Set<string>;
  /** The channel's seq the member list is current at: membership events at or below it are in it. */
  seq: number;
  sessions: number;
  loaded: Promise<void>;
}

/**
 * Who is in each channel that a session on this node follows: the audience of presence. A
 * principal's presence goes to the sessions of principals sharing a channel with it, not to
 * its whole workspace (which cost n² frames as n agents came online). One roster per channel
 * per node, loaded when its first session follows the channel and kept current from the
 * channel's own `channel.member_added` / `channel.member_removed` events, which that session
 * receives anyway; dropped with its last session.
 */
export class ChannelRosters {
  private readonly rosters = new Map<string, Roster>();

  /**
   * `snapshot` reads a channel's members with the seq they are current at: `StartupReads.rosterOf`,
   * which reads the rosters asked for in a round trip together (a burst of sessions following many
   * channels), with the handshakes' key statement.
   */
  constructor(private readonly snapshot: (channelId: string) => Promise<RosterSnapshot>) {}

  /** A session follows `channelId`: loads its roster if this node has none yet. */
  retain(channelId: string): Promise<void> {
    const existing = this.rosters.get(channelId);
    if (existing) {
      existing.sessions++;
      return existing.loaded;
    }
    const roster: Roster = { members: new Set(), seq: 0, sessions: 1, loaded: Promise.resolve() };
    roster.loaded = this.load(channelId, roster);
    this.rosters.set(channelId, roster);
    return roster.loaded;
  }

  release(channelId: string): void {
    const roster = this.rosters.get(channelId);
    if (roster && --roster.sessions <= 0) this.rosters.delete(channelId);
  }

  /** Applies a membership event of a channel stream (any session may report it; applied once). */
  observe(stream: string, event: SesameEvent): void {
    if (event.type !== EventType.MemberAdded && event.type !== EventType.MemberRemoved) return;
    const roster = this.rosters.get(stream);
    const principalId = (event.data as { principalId?: unknown } | null)?.principalId;
    if (!roster || event.seq <= roster.seq || typeof principalId !== 'string') return;
    roster.seq = event.seq;
    if (event.type === EventType.MemberAdded) roster.members.add(principalId);
    else roster.members.delete(principalId);
  }

  /** Whether `principalId` is a member of one of `channelIds` (as far as this node knows). */
  sharesChannel(channelIds: Iterable<string>, principalId: string): boolean {
    for (const channelId of channelIds) if (this.rosters.get(channelId)?.members.has(principalId)) return true;
    return false;
  }

  private async load(channelId: string, roster: Roster): Promise<void> {
    for (;;) {
      const snapshot = await this.snapshot(channelId);
      const seq = snapshot.seq;
      // A membership event newer than this snapshot arrived while it was read: read again.
      if (seq < roster.seq) continue;
      roster.members = new Set(snapshot.members);
      roster.seq = seq;
      return;
    }
  }
}
