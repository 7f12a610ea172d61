import { CloseCode } from '@sesamespace/sdk/protocol';
import type { ServiceContext } from '../shared/context.js';
import type { RealtimeIdentity } from './realtime-auth.js';

// Credentials are re-checked this often on open connections (revoked keys, expired tokens).
const REVALIDATE_INTERVAL_MS = 60_000;

/** What the registry needs of a connection: liveness, credential re-checks, closing. */
export interface RegisteredConnection {
  /** When the client last sent a frame (ms since epoch). */
  readonly lastSeenAt: number;
  /** When the credential was last re-checked (ms since epoch); the registry moves it. */
  lastValidatedAt: number;
  readonly isOpen: boolean;
  readonly identity: Pick<RealtimeIdentity, 'stillValid'> | undefined;
  /** Sends an error frame, then closes with `code`. */
  fail(code: number, error: string): void;
  close(code: number, reason: string): void;
}

/**
 * This node's WebSocket connections, with one timer for all of them (not one per connection):
 * closes those silent for twice the heartbeat interval, re-validates credentials, and closes
 * everything with `GoingAway` on shutdown so clients resume on another node.
 */
export class ConnectionRegistry {
  private readonly connections = new Set<RegisteredConnection>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly ctx: ServiceContext) {
    const heartbeat = ctx.config.SESAME_HEARTBEAT_INTERVAL_MS;
    this.timer = setInterval(() => void this.sweep(), Math.max(250, Math.floor(heartbeat / 2))).unref();
  }

  add(connection: RegisteredConnection) { this.connections.add(connection); }
  remove(connection: RegisteredConnection) { this.connections.delete(connection); }
  get size() { return this.connections.size; }
  all(): RegisteredConnection[] { return [...this.connections]; }

  private async sweep() {
    const now = Date.now();
    const silentAfter = 2 * this.ctx.config.SESAME_HEARTBEAT_INTERVAL_MS;
    for (const connection of [...this.connections]) {
      if (now - connection.lastSeenAt > silentAfter) {
        connection.fail(CloseCode.HeartbeatTimeout, `no frame for ${silentAfter} ms`);
        continue;
      }
      if (connection.isOpen && connection.identity && now - connection.lastValidatedAt > REVALIDATE_INTERVAL_MS) {
        connection.lastValidatedAt = now;
        const valid = await connection.identity.stillValid().catch(() => true); // a database blip is not a revocation
        if (!valid) connection.fail(CloseCode.SessionExpired, 'the credential expired or was revoked');
      }
    }
  }

  /** Closes every connection (clients reconnect elsewhere and resume from their cursors). */
  closeAll(code: number = CloseCode.GoingAway, reason = 'server going away') {
    clearInterval(this.timer);
    for (const connection of [...this.connections]) connection.close(code, reason);
  }
}
