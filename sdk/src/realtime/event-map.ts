import type { AuthenticatedFrame, EventFrame, EventType, PresenceEventFrame, ReservedEventType, TypingEventFrame } from '../protocol/index.js';
import type { ChannelKind, LeaseRequestData, LeaseUpdatedData, MemberRole, Message, ReadReceipt, Task } from '../types.js';
import type { OccurrenceStatus, ScheduleEvent, ScheduleOccurrence } from '../protocol/index.js';

export interface MessageDeletedData { id: string; channelId: string; seq: number; deletedBy: string; deletedAt: string | null }
export interface ChannelCreatedData { channelId: string; kind: ChannelKind; name: string | null; createdBy: string }
export interface ChannelUpdatedData { channelId: string; name?: string; description?: string | null; context?: string | null; updatedBy: string }
export interface MemberAddedData {
  channelId: string; principalId: string; role: MemberRole; addedBy: string; joinedAt: string;
  /** On the new member's inbox stream only: the seq of the matching event on the channel stream. */
  channelSeq?: number;
  /** On the new member's inbox stream only. */
  channel?: { id: string; kind: ChannelKind; name: string | null };
}
export interface MemberRemovedData {
  channelId: string; principalId: string; removedBy: string;
  /** On the removed member's inbox stream only. */
  channelSeq?: number;
}
/** On the agent's inbox after a `syncSchedule` that changed something. */
export interface ScheduleSyncedData { agentId: string; created: number; updated: number; removed: number }
/** On the owner's inbox: an event was created, changed (paused, resumed…) or deleted (`deleted: true`). */
export interface ScheduleUpdatedData { event: ScheduleEvent; deleted?: boolean; updatedBy: string }
/** On the owner's inbox and the event's channel: a run was recorded. */
export interface ScheduleOccurrenceData { eventId: string; agentId: string; title: string; occurrence: ScheduleOccurrence; nextOccurrenceAt: string | null }
/** On the owner's inbox and the event's channel: runs that were due passed the grace period unrecorded. */
export interface ScheduleMissedData {
  eventId: string; agentId: string; title: string;
  /** The missed slots, oldest first (each recorded as a `missed` occurrence). */
  missed: string[];
  status: Extract<OccurrenceStatus, 'missed'>;
  nextOccurrenceAt: string | null;
}
/** `task.created` / `task.updated`: the task as it is now; `changes` names the fields that changed. */
export interface TaskChangedData { task: Task; actorId: string; changes?: string[] }
/** `task.assigned`: a principal was given (`assigned: true`) or lost a role on a task. */
export interface TaskAssignedData { task: Task; principalId: string; role: string; assigned: boolean; actorId: string }
export interface WebhookDisabledData { webhookId: string; reason: string; disabledAt: string }
/** The `data` of each durable event type. Keys are exactly the `EventType` values. */
export interface DurableEventData {
  message: Message;
  'message.updated': Message;
  'message.deleted': MessageDeletedData;
  'channel.created': ChannelCreatedData;
  'channel.updated': ChannelUpdatedData;
  'channel.member_added': MemberAddedData;
  'channel.member_removed': MemberRemovedData;
  read_receipt: ReadReceipt;
  'schedule.synced': ScheduleSyncedData;
  'schedule.updated': ScheduleUpdatedData;
  'schedule.occurrence': ScheduleOccurrenceData;
  'schedule.missed': ScheduleMissedData;
  'task.created': TaskChangedData;
  'task.updated': TaskChangedData;
  'task.assigned': TaskAssignedData;
  'vault.lease_request': LeaseRequestData;
  'vault.lease_updated': LeaseUpdatedData;
  'webhook.disabled': WebhookDisabledData;
}

/** A durable event as handlers receive it: `{type, stream, seq, data, at}`, plus `message` for `message` events. */
export type DurableEvent<K extends EventType = EventType> = { [T in K]: EventFrame<DurableEventData[T]> & { type: T } }[K];
/**
 * An event of a reserved type (`ReservedEventType`): no server emits it yet, and its payload is
 * not defined, so `data` is `never` rather than a guessed shape that code could come to rely on.
 */
export type ReservedEvent<K extends ReservedEventType = ReservedEventType> = { [T in K]: EventFrame<never> & { type: T } }[K];
export type TypingEvent = TypingEventFrame;
export type PresenceEvent = PresenceEventFrame;
/** Everything `onAny` receives (event types newer than this SDK arrive too, shaped as `EventFrame`). */
export type RealtimeEvent = DurableEvent | TypingEvent | PresenceEvent;

export interface ConnectedInfo {
  sessionId: string;
  /** True when the connection resumed from cursors: missed events are replayed before live ones. */
  resumed: boolean;
  /** Who the gateway authenticated. */
  principal: AuthenticatedFrame['principal'];
}
export interface DisconnectedInfo { code: number; reason: string; willReconnect: boolean }
export interface ReconnectingInfo {
  /** 1 for the first attempt after a drop; counts consecutive failures. */
  attempt: number;
  delayMs: number;
}
export interface ResyncInfo { stream: string; fromSeq: number; oldestSeq: number; reason: string }

/** Every event `SesameClient` emits, with its handler's arguments. */
export interface SesameClientEvents {
  /** Authenticated with the gateway (first time or after a reconnect). */
  connected: [info: ConnectedInfo];
  /** The connection closed; `willReconnect` tells whether the SDK is retrying. */
  disconnected: [info: DisconnectedInfo];
  /** A reconnect attempt is scheduled after `delayMs`. */
  reconnecting: [info: ReconnectingInfo];
  /** Events `fromSeq`…`oldestSeq - 1` of `stream` are beyond retention and will never arrive; refetch state over REST. */
  resync: [info: ResyncInfo];
  /** Something failed that the SDK cannot fix by itself: a handler threw, auth failed, reconnects ran out. */
  error: [error: Error];
  /** Someone is typing in a channel (ephemeral, until `expiresAt`). */
  typing: [event: TypingEvent];
  /** A principal went online, away or offline (ephemeral). */
  presence: [event: PresenceEvent];
  /** A message was posted: `event.message ?? event.data` is the `Message`. */
  message: [event: DurableEvent<'message'>];
  /** A message was edited, or a streamed message grew (`data.streaming`). */
  'message.updated': [event: DurableEvent<'message.updated'>];
  /** A message was deleted. */
  'message.deleted': [event: DurableEvent<'message.deleted'>];
  /** A channel you belong to was created. */
  'channel.created': [event: DurableEvent<'channel.created'>];
  /** A channel's name, description or context changed. */
  'channel.updated': [event: DurableEvent<'channel.updated'>];
  /** A member joined a channel (on your inbox stream: you were added). */
  'channel.member_added': [event: DurableEvent<'channel.member_added'>];
  /** A member left or was removed (on your inbox stream: you were removed). */
  'channel.member_removed': [event: DurableEvent<'channel.member_removed'>];
  /** A member's read position moved. */
  read_receipt: [event: DurableEvent<'read_receipt'>];
  /** Your `syncSchedule` changed your schedule (inbox). */
  'schedule.synced': [event: DurableEvent<'schedule.synced'>];
  /** A schedule event of yours was created, changed or deleted (inbox). */
  'schedule.updated': [event: DurableEvent<'schedule.updated'>];
  /** A run of a schedule event was recorded (owner's inbox, and the event's channel). */
  'schedule.occurrence': [event: DurableEvent<'schedule.occurrence'>];
  /** Runs that were due did not happen within the grace period (owner's inbox, and the event's channel). */
  'schedule.missed': [event: DurableEvent<'schedule.missed'>];
  /** A task was created in a channel you belong to (also on the inbox of its assignees). */
  'task.created': [event: DurableEvent<'task.created'>];
  /** A task's status, fields or run changed (channel stream and assignees' inboxes). */
  'task.updated': [event: DurableEvent<'task.updated'>];
  /** Someone was assigned to or removed from a task (channel stream and that principal's inbox). */
  'task.assigned': [event: DurableEvent<'task.assigned'>];
  /** Someone asks for a lease you may approve (on your inbox stream). */
  'vault.lease_request': [event: DurableEvent<'vault.lease_request'>];
  /** A lease you asked for changed: approved, denied, activated, renewed, revoked or expired (on your inbox stream). */
  'vault.lease_updated': [event: DurableEvent<'vault.lease_updated'>];
  /** The platform disabled one of your webhooks (`data.reason` says why). */
  'webhook.disabled': [event: DurableEvent<'webhook.disabled'>];
}

export type SesameClientEventName = keyof SesameClientEvents;
/** May be async: a rejected promise is reported as an `error` event, like a throw. */
export type AnyEventHandler = (event: RealtimeEvent) => void;
