import type { PresenceStatus, SesameEvent } from './events.js';

export const PROTOCOL_VERSION = 1;
/** Path of the WebSocket endpoint on the gateway. */
export const CONNECT_PATH = '/v1/connect';
/** Heartbeat interval the gateway announces; a client silent for 2× this is closed. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
/** How long the gateway waits for the first (`auth`) frame. */
export const AUTH_TIMEOUT_MS = 10_000;
/** A typing indicator lasts this long unless renewed. */
export const TYPING_TTL_MS = 6_000;
/** Most principals one connection may follow with `presence_subscribe` (and ids in one such frame). */
export const MAX_PRESENCE_SUBSCRIPTIONS = 1_000;

/** Cursors: last seen `seq` per stream. Keys without `inbox:` are channel ids. */
export type Cursors = Record<string, number>;

// ---- client → server ----------------------------------------------------------------------

export interface AuthFrame {
  type: 'auth';
  /** An `sk_` API key. */
  apiKey?: string;
  /** An access token (from Ed25519 verify or human login). */
  token?: string;
  /** Ed25519 variant: handle + nonce from `POST /auth/challenge` + base64 signature. */
  handle?: string;
  nonce?: string;
  signature?: string;
  /** Resume: replay everything after these cursors before going live. */
  cursors?: Cursors;
}
export interface MetaFrame { type: 'meta'; runtime?: string; version?: string }
export interface PingFrame { type: 'ping' }
export interface TypingFrame { type: 'typing'; channelId: string }
export interface ReplayFrame { type: 'replay'; cursors: Cursors }
export interface PresenceFrame { type: 'presence'; status: Exclude<PresenceStatus, 'offline'> }
/**
 * Hear the presence of these principals of your workspace too, not only of those you share a
 * channel with (the gateway's default audience). Adds to what the connection follows, up to
 * `MAX_PRESENCE_SUBSCRIPTIONS`; lasts for the connection (the SDK sends it again after a reconnect).
 */
export interface PresenceSubscribeFrame { type: 'presence_subscribe'; principalIds: string[] }
/** Stops what `presence_subscribe` started (sharing a channel still makes a principal heard). */
export interface PresenceUnsubscribeFrame { type: 'presence_unsubscribe'; principalIds: string[] }

export type ClientFrame = AuthFrame | MetaFrame | PingFrame | TypingFrame | ReplayFrame | PresenceFrame | PresenceSubscribeFrame | PresenceUnsubscribeFrame;

// ---- server → client ----------------------------------------------------------------------

export interface AuthenticatedFrame {
  type: 'authenticated';
  protocolVersion: number;
  heartbeatIntervalMs: number;
  sessionId: string;
  principal: { id: string; handle: string; kind: 'human' | 'agent'; workspaceId: string };
  /** Current head seq of every stream the connection follows. */
  heads: Cursors;
}
export interface ErrorFrame { type: 'error'; error: string; code?: string }
export interface PongFrame { type: 'pong'; heads?: Cursors }
/** Periodic heads announcement so clients can detect a missed event without traffic. */
export interface HeadsFrame { type: 'heads'; heads: Cursors }
/** Replay for `stream` is complete up to `seq`; live events follow. */
export interface ReplayedFrame { type: 'replayed'; stream: string; seq: number }
/** History for `stream` before `oldestSeq` is beyond retention: the client must resync. */
export interface ResyncFrame { type: 'resync'; stream: string; fromSeq: number; oldestSeq: number; reason: string }
export interface TypingEventFrame {
  type: 'typing';
  channelId: string;
  principalId: string;
  handle: string;
  expiresAt: string;
}
export interface PresenceEventFrame {
  type: 'presence';
  principalId: string;
  status: PresenceStatus;
  at: string;
}
/**
 * Several presence changes at once: the gateway gathers the changes a connection may hear for
 * a short tick (`PRESENCE_BATCH_MS`) and sends them in one frame, in the order they happened.
 * A tick with a single change is sent as a plain `presence` frame. The SDK emits one `presence`
 * event per entry, exactly as for `presence` frames.
 */
export interface PresenceBatchFrame {
  type: 'presence_batch';
  presence: Array<Omit<PresenceEventFrame, 'type'>>;
}
/** How long the gateway gathers presence changes before sending them (one frame per connection per tick). */
export const PRESENCE_BATCH_MS = 50;
/**
 * A durable event as the SDK hands it to handlers: the payload under `data`, and for `message`
 * events under `message` too (what existing Sesame clients read).
 */
export type EventFrame<T = unknown> = SesameEvent<T> & { message?: T };

/**
 * A durable event on the wire. A `message` event carries its payload only under `message` (the
 * field existing Sesame clients read), not twice: messages are most of the traffic, and the
 * duplicate doubled every frame. Every other event carries it under `data`.
 */
export type WireEventFrame<T = unknown> = Omit<SesameEvent<T>, 'data'> & { data?: T; message?: T };

export type ServerFrame =
  | AuthenticatedFrame
  | ErrorFrame
  | PongFrame
  | HeadsFrame
  | ReplayedFrame
  | ResyncFrame
  | TypingEventFrame
  | PresenceEventFrame
  | PresenceBatchFrame
  | EventFrame;

/** Control frame types; anything else from the server carrying `stream`+`seq` is an event. */
export const CONTROL_FRAME_TYPES = new Set([
  'authenticated', 'error', 'pong', 'heads', 'replayed', 'resync',
]);

export function isEventFrame(frame: { type: string; stream?: unknown; seq?: unknown }): frame is EventFrame {
  return typeof frame.stream === 'string' && typeof frame.seq === 'number' && !CONTROL_FRAME_TYPES.has(frame.type);
}

/** The wire frame of a durable event (a message's payload under `message` only). */
export function toWireEventFrame<T>(event: SesameEvent<T>): WireEventFrame<T> {
  if (event.type !== 'message') return { ...event };
  const { data, ...rest } = event;
  return { ...rest, message: data };
}

/** A durable event for handlers, from a wire frame or a stored event: `data` always, `message` for messages. */
export function toEventFrame<T>(event: SesameEvent<T> | WireEventFrame<T>): EventFrame<T> {
  const data = (event.data ?? (event as WireEventFrame<T>).message) as T;
  return event.type === 'message' ? { ...event, data, message: data } : { ...event, data };
}
