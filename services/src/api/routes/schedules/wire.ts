import type { ScheduleEvent, ScheduleOccurrence } from '@sesamespace/sdk/protocol';
import type { ScheduleEventRow, ScheduleOccurrenceRow } from '../../../shared/db/schema.js';

const iso = (d: Date | string) => new Date(d).toISOString();
const isoOrNull = (d: Date | string | null) => (d === null ? null : iso(d));

export function scheduleEventToWire(row: ScheduleEventRow): ScheduleEvent {
  return {
    id: row.id, agentId: row.agent_id, externalId: row.external_id, title: row.title, description: row.description,
    cronExpression: row.cron_expression, intervalMs: row.interval_ms, timezone: row.timezone,
    status: row.status, maxOccurrences: row.max_occurrences, occurrenceCount: row.occurrence_count,
    nextOccurrenceAt: isoOrNull(row.next_occurrence_at), channelId: row.channel_id, metadata: row.metadata,
    createdAt: iso(row.created_at), updatedAt: iso(row.updated_at),
  };
}

export function occurrenceToWire(row: ScheduleOccurrenceRow): ScheduleOccurrence {
  return {
    id: row.id, eventId: row.event_id, scheduledAt: iso(row.scheduled_at), status: row.status, result: row.result,
    durationMs: row.duration_ms, recordedAt: iso(row.recorded_at),
  };
}
