import { Type } from '@sinclair/typebox';
import { Id, JsonObject, Nullable, SafeInteger, Text } from '../../../shared/http/schemas.js';

const MAX_SYNC_EVENTS = 1000;
const Instant = Type.String({ format: 'date-time', maxLength: 64 });
const Timezone = Text({ minLength: 1, maxLength: 64, description: 'IANA time zone, e.g. `America/New_York` (default `UTC`)' });
const CronExpression = Text({ minLength: 1, maxLength: 200, description: '5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first); ranges, steps, names' });
const IntervalMs = SafeInteger({ minimum: 1000, description: 'A fixed interval in milliseconds, instead of a cron expression' });
const Title = Text({ minLength: 1, maxLength: 200 });
const Description = Text({ maxLength: 2000 });
const ExternalId = Text({ minLength: 1, maxLength: 200 });
const Metadata = JsonObject({ maxDepth: 8, maxBytes: 16 * 1024 });
const MaxOccurrences = SafeInteger({ minimum: 1, maximum: 1_000_000 });

export const ScheduleEventSchema = Type.Object({
  id: Type.String(), agentId: Type.String(), externalId: Nullable(Type.String()), title: Type.String(), description: Nullable(Type.String()),
  cronExpression: Nullable(Type.String()), intervalMs: Nullable(Type.Integer()), timezone: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('cancelled'), Type.Literal('completed')]),
  maxOccurrences: Nullable(Type.Integer()), occurrenceCount: Type.Integer(), nextOccurrenceAt: Nullable(Type.String()),
  channelId: Nullable(Type.String()), metadata: Type.Object({}, { additionalProperties: true }), createdAt: Type.String(), updatedAt: Type.String(),
}, { $id: 'ScheduleEvent' });

const OccurrenceStatus = Type.Union([Type.Literal('completed'), Type.Literal('skipped'), Type.Literal('failed'), Type.Literal('missed')]);
export const OccurrenceSchema = Type.Object({
  id: Type.String(), eventId: Type.String(), scheduledAt: Type.String(), status: OccurrenceStatus,
  result: Nullable(Type.String()), durationMs: Nullable(Type.Integer()), recordedAt: Type.String(),
}, { $id: 'ScheduleOccurrence' });

const AdjustmentSchema = Type.Object({
  eventId: Type.String(), externalId: Nullable(Type.String()), field: Type.Literal('nextOccurrenceAt'),
  sent: Type.String(), used: Nullable(Type.String()), reason: Type.String(),
}, { description: 'A value the client sent that the server replaced, and why' });
const Adjustments = Type.Array(AdjustmentSchema);

const eventInputFields = {
  title: Title,
  description: Type.Optional(Description),
  cronExpression: Type.Optional(CronExpression),
  intervalMs: Type.Optional(IntervalMs),
  timezone: Type.Optional(Timezone),
  nextOccurrenceAt: Type.Optional(Instant),
  maxOccurrences: Type.Optional(MaxOccurrences),
  channelId: Type.Optional(Id),
  metadata: Type.Optional(Metadata),
};

export const CreateEventBody = Type.Object({ externalId: Type.Optional(ExternalId), ...eventInputFields }, { additionalProperties: false });
export const SyncBody = Type.Object({
  events: Type.Array(Type.Object({ externalId: ExternalId, ...eventInputFields }, { additionalProperties: false }), { maxItems: MAX_SYNC_EVENTS }),
}, { additionalProperties: false });

export const SyncResultSchema = Type.Object({
  created: Type.Integer(), updated: Type.Integer(), removed: Type.Integer(), events: Type.Array(ScheduleEventSchema), adjustments: Adjustments,
});
export const EventResultSchema = Type.Object({ event: ScheduleEventSchema, adjustments: Adjustments });

export const UpdateEventBody = Type.Object({
  title: Type.Optional(Title),
  description: Type.Optional(Nullable(Description)),
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('cancelled')])),
  cronExpression: Type.Optional(CronExpression),
  intervalMs: Type.Optional(IntervalMs),
  timezone: Type.Optional(Timezone),
  nextOccurrenceAt: Type.Optional(Instant),
  maxOccurrences: Type.Optional(Nullable(MaxOccurrences)),
  channelId: Type.Optional(Nullable(Id)),
  metadata: Type.Optional(Metadata),
}, { additionalProperties: false, minProperties: 1 });

export const ListEventsQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused'), Type.Literal('cancelled'), Type.Literal('completed')])),
  agentId: Type.Optional(Id),
}, { additionalProperties: false });

export const RecordOccurrenceBody = Type.Object({
  scheduledAt: Instant,
  status: Type.Union([Type.Literal('completed'), Type.Literal('skipped'), Type.Literal('failed')]),
  result: Type.Optional(Text({ maxLength: 10_000 })),
  durationMs: Type.Optional(SafeInteger()),
  nextOccurrenceAt: Type.Optional(Instant),
}, { additionalProperties: false });
export const RecordResultSchema = Type.Object({ occurrence: OccurrenceSchema, event: ScheduleEventSchema, adjustments: Adjustments });

export const OccurrencesQuery = Type.Object({ limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 200, default: 20 })) }, { additionalProperties: false });

export const CalendarQuery = Type.Object({
  from: Instant,
  to: Instant,
  agentId: Type.Optional(Id),
  channelId: Type.Optional(Id),
  includeInactive: Type.Optional(Type.Boolean({ description: 'Also paused and cancelled events (default false)' })),
}, { additionalProperties: false });

export const CalendarSchema = Type.Object({
  from: Type.String(), to: Type.String(),
  occurrences: Type.Array(Type.Object({
    eventId: Type.String(), agentId: Type.String(), externalId: Nullable(Type.String()), title: Type.String(), channelId: Nullable(Type.String()),
    timezone: Type.String(), scheduledAt: Type.String(),
    status: Type.Union([OccurrenceStatus, Type.Literal('scheduled')]), result: Nullable(Type.String()), durationMs: Nullable(Type.Integer()),
  })),
  truncated: Type.Boolean(), notice: Nullable(Type.String()),
});
