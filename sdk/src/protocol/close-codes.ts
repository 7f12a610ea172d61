/**
 * WebSocket close codes used by the Sesame gateway. One source of truth: the gateway imports
 * these, the SDK's reconnect logic switches on them.
 *
 * 4000–4099 are Sesame's. A code is either *resumable* (reconnect and replay from the cursor)
 * or *fatal* (reconnecting with the same credentials cannot succeed).
 */
export const CloseCode = {
  /** Normal closure requested by the client (`disconnect()`). */
  Normal: 1000,
  /** The gateway is shutting down or draining; reconnect (to any node) and resume. */
  GoingAway: 1001,
  /** The first frame was not a valid `auth` frame, or credentials were rejected. Fatal. */
  AuthFailed: 4001,
  /** No `auth` frame arrived within the handshake window. Resumable. */
  AuthTimeout: 4002,
  /** The client missed heartbeats (no frame within 2× heartbeatIntervalMs). Resumable. */
  HeartbeatTimeout: 4003,
  /** The client sent a frame that is not valid JSON or not a known shape. Resumable. */
  InvalidFrame: 4004,
  /** The credential expired or was revoked while connected. Refresh, then reconnect. */
  SessionExpired: 4005,
  /** The connection's bounded send buffer overflowed; the client resumes from its cursor. */
  SlowConsumer: 4008,
  /** Too many frames from this client. Resumable after backoff. */
  RateLimited: 4029,
  /** Unexpected server error. Resumable. */
  InternalError: 4500,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** What the client should do after the socket closed with `code`. */
export type CloseAction = 'resume' | 'refresh-and-resume' | 'fatal' | 'stop';

export function closeAction(code: number): CloseAction {
  switch (code) {
    case CloseCode.Normal:
      return 'stop';
    case CloseCode.AuthFailed:
      return 'fatal';
    case CloseCode.SessionExpired:
      return 'refresh-and-resume';
    default:
      // 1001, 1006 (abnormal, e.g. node killed), heartbeat, slow consumer, internal errors:
      // the durable state lives in Postgres, so resuming from the cursor is always safe.
      return 'resume';
  }
}
