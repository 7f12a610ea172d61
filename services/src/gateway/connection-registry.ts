import { CloseCode } from '@sesamespace/sdk/protocol';
import { subscribeRevocations, type Revocation } from '../shared/auth/revocations.js';
import type { ServiceContext } from '../shared/context.js';
import { metrics } from '../shared/metrics.js';
import type { RealtimeIdentity } from './realtime-auth.js';

// setTimeout's longest delay (~24.8 days); a later expiry is reached in several hops.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the registry needs of a connection (WebSocket or SSE): liveness, credential, closing. */
export interface RegisteredConnection {
  /**
   * When the client last sent a frame (ms since epoch); undefined for a transport without
   * client frames (SSE), which the heartbeat check then leaves alone.
   */
  readonly lastSeenAt: number | undefined;
  /** When the credential was last re-checked (ms since epoch); the registry moves it. */
  lastValidatedAt: number;
  readonly isOpen: boolean;
  /** Set once the client authenticated (a WebSocket is registered before its `auth` frame). */
  readonly identity: Pick<RealtimeIdentity, 'stillValid' | 'apiKeyId' | 'expiresAt'> & { principal: { id: string } } | undefined;
  /** Tells the client why (an error frame, or the SSE `close` event), then closes with `code`. */
  fail(code: number, error: string): void;
  close(code: number, reason: string): void;
}

/**
 * Each connection's credential is re-checked a share of the interval early, its own share, drawn
 * once in [0, RECHECK_SPREAD): connections opened together (agents starting at once, a fleet
 * reconnecting to a new node) are then re-checked spread over that part of the interval instead
 * of all in one sweep. A re-check is a statement or two per connection: a thousand at once kept
 * the gateway and Postgres busy for a second or more, every interval, delaying live delivery to
 * everyone meanwhile. Never later than the interval: only earlier.
 */
const RECHECK_SPREAD = 0.5;
/** How often due re-checks and silent connections are looked for (at most; half the heartbeat if shorter). */
const SWEEP_EVERY_MS = 1_000;

const REVOKED = 'the credential was revoked';
const EXPIRED = 'the credential expired';

/**
 * This node's realtime connections, WebSocket and SSE. One timer for all of them (not one per
 * connection) closes those silent for twice the heartbeat interval and re-checks credentials
 * at least every `SESAME_CREDENTIAL_RECHECK_INTERVAL_MS` (spread: `RECHECK_SPREAD`) — the safety net. What ends a connection at once:
 * a revocation published on the bus by any api process (`shared/auth/revocations.ts`), and the
 * credential's own expiry, for which each authenticated connection holds a timer. Both close with
 * `4005`. On shutdown everything closes with `GoingAway` so clients resume on another node.
 */
export class ConnectionRegistry {
  private readonly connections = new Set<RegisteredConnection>();
  private readonly expiryTimers = new Map<RegisteredConnection, NodeJS.Timeout>();
  /** Each connection's re-check interval (see `RECHECK_SPREAD`). */
  private readonly recheckAfter = new WeakMap<RegisteredConnection, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribeRevocations: () => void;
  private readonly unhookReconnect: () => void;
  private closed = false;
  /** When the sweep whose re-checks are under way began: the next sweeps leave them to it (they go one at a time). */
  private recheckingSince: number | undefined;
  /** Connections whose re-check is under way (a later pass skips them). */
  private readonly checking = new WeakSet<RegisteredConnection>();

  constructor(private readonly ctx: ServiceContext) {
    const heartbeat = ctx.config.SESAME_HEARTBEAT_INTERVAL_MS;
    this.timer = setInterval(() => void this.sweep(), Math.max(250, Math.min(SWEEP_EVERY_MS, Math.floor(heartbeat / 2)))).unref();
    this.unsubscribeRevocations = subscribeRevocations(ctx.bus, (revocation) => this.revoke(revocation));
    // Revocations published while the bus was reconnecting are gone: re-check everyone now.
    this.unhookReconnect = ctx.bus.onReconnect(() => void this.revalidate(() => true));
  }

  add(connection: RegisteredConnection) {
    if (!this.connections.has(connection)) {
      metrics.connections.inc();
      this.recheckAfter.set(connection, this.ctx.config.SESAME_CREDENTIAL_RECHECK_INTERVAL_MS * (1 - RECHECK_SPREAD * Math.random()));
    }
    this.connections.add(connection);
  }

  remove(connection: RegisteredConnection) {
    if (this.connections.delete(connection)) metrics.connections.dec();
    clearTimeout(this.expiryTimers.get(connection));
    this.expiryTimers.delete(connection);
  }

  get size() { return this.connections.size; }
  all(): RegisteredConnection[] { return [...this.connections]; }

  /** The connection's identity is set: close it when its credential expires. */
  authenticated(connection: RegisteredConnection): void {
    const expiresAt = connection.identity?.expiresAt;
    if (expiresAt === undefined || !this.connections.has(connection)) return;
    const arm = () => {
      const left = expiresAt - Date.now();
      if (left <= 0) {
        this.expiryTimers.delete(connection);
        connection.fail(CloseCode.SessionExpired, EXPIRED);
        return;
      }
      this.expiryTimers.set(connection, setTimeout(arm, Math.min(left, MAX_TIMER_MS)).unref());
    };
    arm();
  }

  /** Closes, on this node, every connection a revocation covers. */
  revoke(revocation: Revocation): number {
    let closed = 0;
    for (const connection of [...this.connections]) {
      const identity = connection.identity;
      if (!identity || identity.principal.id !== revocation.principalId) continue;
      if (revocation.type === 'api-key' && identity.apiKeyId !== revocation.apiKeyId) continue;
      connection.fail(CloseCode.SessionExpired, REVOKED);
      closed++;
    }
    if (closed > 0) this.ctx.logger.info({ revocation, closed }, 'closed connections of a revoked credential');
    return closed;
  }

  private async sweep() {
    const now = Date.now();
    const silentAfter = 2 * this.ctx.config.SESAME_HEARTBEAT_INTERVAL_MS;
    for (const connection of [...this.connections]) {
      if (connection.lastSeenAt !== undefined && now - connection.lastSeenAt > silentAfter) {
        connection.fail(CloseCode.HeartbeatTimeout, `no frame for ${silentAfter} ms`);
      }
    }
    const interval = this.ctx.config.SESAME_CREDENTIAL_RECHECK_INTERVAL_MS;
    // A pass under way has the connections it re-checks; one stuck for a whole interval (a
    // statement that never answers) no longer holds the others back.
    if (this.recheckingSince !== undefined && now - this.recheckingSince < interval) return;
    this.recheckingSince = now;
    try {
      await this.revalidate((connection) => now - connection.lastValidatedAt > (this.recheckAfter.get(connection) ?? interval));
    } finally {
      if (this.recheckingSince === now) this.recheckingSince = undefined;
    }
  }

  /** Re-checks the credentials of the open connections `due` selects; closes the invalid ones. */
  private async revalidate(due: (connection: RegisteredConnection) => boolean) {
    for (const connection of [...this.connections]) {
      if (this.closed || !connection.isOpen || !connection.identity || this.checking.has(connection) || !due(connection)) continue;
      connection.lastValidatedAt = Date.now();
      this.checking.add(connection);
      try {
        const valid = await connection.identity.stillValid().catch(() => true); // a database blip is not a revocation
        if (!valid) connection.fail(CloseCode.SessionExpired, 'the credential expired or was revoked');
      } finally {
        this.checking.delete(connection);
      }
    }
  }

  /** Closes every connection (clients reconnect elsewhere and resume from their cursors). */
  closeAll(code: number = CloseCode.GoingAway, reason = 'server going away') {
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribeRevocations();
    this.unhookReconnect();
    for (const connection of [...this.connections]) connection.close(code, reason);
  }
}
