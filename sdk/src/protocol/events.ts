/**
 * Durable event types the server emits. Each is written to the `events` table in the same
 * transaction as the change it describes, carries a per-stream gapless `seq`, and is replayable
 * from a cursor.
 */
export const EventType = {
  MessageCreated: 'message',
  MessageUpdated: 'message.updated',
  MessageDeleted: 'message.deleted',
  ChannelCreated: 'channel.created',
  ChannelUpdated: 'channel.updated',
  MemberAdded: 'channel.member_added',
  MemberRemoved: 'channel.member_removed',
  ReadReceipt: 'read_receipt',
  ScheduleSynced: 'schedule.synced',
  ScheduleUpdated: 'schedule.updated',
  ScheduleOccurrence: 'schedule.occurrence',
  ScheduleMissed: 'schedule.missed',
  TaskCreated: 'task.created',
  TaskUpdated: 'task.updated',
  TaskAssigned: 'task.assigned',
  LeaseRequest: 'vault.lease_request',
  LeaseUpdated: 'vault.lease_updated',
  /** To the owner's inbox: the platform disabled one of its webhooks (`410 Gone`, or failing for days). */
  WebhookDisabled: 'webhook.disabled',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

/**
 * Durable event names reserved for features that have not shipped. Empty today: every event the
 * SDK README names is emitted. The mechanism stays for the next feature: a name fixed before its
 * feature ships goes here, so code written against it compiles and a handler registered for it is
 * simply never called; the change that makes the server emit it moves it into `EventType`, with
 * its payload type.
 */
export const ReservedEventType = {} as const;
export type ReservedEventType = (typeof ReservedEventType)[keyof typeof ReservedEventType];

/** Ephemeral events: delivered live only, never stored, never replayed. */
export const EphemeralType = {
  Typing: 'typing',
  Presence: 'presence',
} as const;
export type EphemeralType = (typeof EphemeralType)[keyof typeof EphemeralType];

export type PresenceStatus = 'online' | 'away' | 'offline';

/**
 * A stream is a channel (its id is the channel id) or a principal's personal inbox
 * (`inbox:<principalId>`): lease requests to approvers, "you were added", task assignment.
 */
export const INBOX_PREFIX = 'inbox:';
export function inboxStream(principalId: string): string {
  return `${INBOX_PREFIX}${principalId}`;
}
export function isInboxStream(stream: string): boolean {
  return stream.startsWith(INBOX_PREFIX);
}

/** The durable event envelope as stored and as delivered. */
export interface SesameEvent<T = unknown> {
  type: string;
  stream: string;
  seq: number;
  data: T;
  at: string;
}
