import type { SesameEvent } from '@sesamespace/sdk/protocol';
import { metrics } from '../metrics.js';

/** Written → heard on this process (clocks of api and gateway hosts differ: keep them synced). */
function observeBusLag(at: string): void {
  const written = Date.parse(at);
  if (Number.isFinite(written)) metrics.busLag.observe(Math.max(0, Date.now() - written) / 1000);
}

/**
 * What travels on the bus. Durable events are published after their transaction commits
 * (Postgres stays the truth: a lost publish is repaired by replay); ephemeral frames
 * (typing, presence) exist only here; revocations (`shared/auth/revocations.ts`) tell every
 * gateway node to close the connections of a withdrawn credential. The revocation body is
 * checked by its reader (`parseRevocation`), hence `unknown` here.
 */
export type BusMessage =
  | { kind: 'event'; event: SesameEvent }
  | { kind: 'ephemeral'; frame: Record<string, unknown> & { type: string } }
  | { kind: 'revocation'; revocation: unknown };

export type BusHandler = (message: BusMessage) => void;

/**
 * Topic-based fan-out. Topics are stream ids (a channel id or `inbox:<principalId>`) and a few
 * internal ones (`presence:<workspaceId>`, `control:revocations`). Subscriptions are
 * reference-counted: the process holds one upstream subscription per topic however many local
 * listeners share it.
 */
export interface Bus {
  /**
   * Publishes `message` on `topic`. `body`, when given, is `JSON.stringify(message)` made
   * beforehand (the api serialises a message once for its reply and its publish): a bus that
   * sends text sends it instead of serialising the message again; subscribers get the same.
   */
  publish(topic: string, message: BusMessage, body?: string): Promise<void>;
  /** Returns an unsubscribe function; calling it twice is harmless. */
  subscribe(topic: string, handler: BusHandler): () => void;
  /** Resolves when all upstream subscriptions requested so far are active. */
  ready(): Promise<void>;
  /** Called when the upstream connection is re-established (listeners should re-check heads). */
  onReconnect(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Local listener bookkeeping shared by both implementations. */
export class TopicRegistry {
  private readonly handlers = new Map<string, Set<BusHandler>>();

  /** Adds a handler; returns true when this is the topic's first local listener. */
  add(topic: string, handler: BusHandler): boolean {
    let set = this.handlers.get(topic);
    const first = !set;
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    return first;
  }

  /** Removes a handler; returns true when the topic has no local listeners left. */
  remove(topic: string, handler: BusHandler): boolean {
    const set = this.handlers.get(topic);
    if (!set || !set.delete(handler)) return false;
    if (set.size === 0) { this.handlers.delete(topic); return true; }
    return false;
  }

  dispatch(topic: string, message: BusMessage): void {
    const set = this.handlers.get(topic);
    if (!set) return;
    if (message.kind === 'event') observeBusLag(message.event.at);
    for (const handler of [...set]) {
      try { handler(message); } catch { /* one listener's bug must not starve the others */ }
    }
  }

  topics(): string[] { return [...this.handlers.keys()]; }
}
