// The API both builds export; each entry point (`index.ts` for Node, `browser.ts`) adds its
// `FileCursorStore`.
export { SesameClient } from './client.js';
export type { SesameClientOptions } from './options.js';
export type { StreamTaskOptions } from './task-stream.js';
export { DEFAULT_OPTIONS } from './options.js';
export * from './errors.js';
export type * from './types.js';
export { generateKeyPair, publicKeyOf, signChallenge } from './keys.js';
export {
  verifyWebhookSignature, constructWebhookEvent, verifyStandardWebhook, signWebhookPayload, WebhookVerificationError, WEBHOOK_TOLERANCE_SECONDS,
} from './webhooks.js';
export type { AuthFrameCredentials } from './auth.js';
export { MemoryCursorStore, type CursorStore } from './realtime/cursor-store.js';
export type { ConnectionState } from './realtime/connection.js';
export type {
  SesameClientEvents, SesameClientEventName, DurableEventData, DurableEvent, TypingEvent, PresenceEvent, RealtimeEvent, AnyEventHandler,
  ConnectedInfo, DisconnectedInfo, ReconnectingInfo, ResyncInfo,
  ChannelCreatedData, ChannelUpdatedData, MemberAddedData, MemberRemovedData, MessageDeletedData, ReservedEvent, ScheduleMissedData,
  ScheduleOccurrenceData, ScheduleSyncedData, ScheduleUpdatedData, TaskAssignedData, TaskChangedData, WebhookDisabledData,
} from './realtime/event-map.js';
export type { Cursors, EventFrame } from './protocol/index.js';
export { TASK_STATUSES, TASK_TRANSITIONS, TASK_RETRYABLE, canTransition } from './protocol/tasks.js';
export { fromOpenClawJobs } from './openclaw.js';
export type { OpenClawJobsFile, OpenClawJob, OpenClawSchedule, OpenClawJobState, OpenClawRunStatus, FromOpenClawJobsOptions } from './openclaw.js';
