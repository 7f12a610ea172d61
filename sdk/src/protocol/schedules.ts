// ---- schedules ---------------------------------------------------------------------------
// REST bodies of `/schedule/*`: an agent's timed jobs, what happened at each run, and the
// calendar humans read.

export type ScheduleStatus = 'active' | 'paused' | 'cancelled' | 'completed';
/** What happened at a run: the agent reports the first three; the server records `missed`. */
export type OccurrenceStatus = 'completed' | 'skipped' | 'failed' | 'missed';

/** One timed job of an agent: cron (`cronExpression` + `timezone`), interval (`intervalMs`) or one-shot. */
export interface ScheduleEvent {
  id: string;
  agentId: string;
  /** The agent's own job id: `syncSchedule` upserts by it. */
  externalId: string | null;
  title: string;
  description: string | null;
  cronExpression: string | null;
  intervalMs: number | null;
  /** IANA zone the cron expression is read in (default `UTC`). */
  timezone: string;
  status: ScheduleStatus;
  maxOccurrences: number | null;
  occurrenceCount: number;
  /** Computed by the server for cron and interval events; null once nothing is due. */
  nextOccurrenceAt: string | null;
  /** Where `schedule.occurrence` and `schedule.missed` are also posted. */
  channelId: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** What `createScheduleEvent` and each `syncSchedule` entry take. */
export interface ScheduleEventInput {
  externalId?: string;
  title: string;
  description?: string;
  /** 5 fields (minute hour day month weekday) or 6 (seconds first); ranges, steps, names. */
  cronExpression?: string;
  /** A fixed interval in milliseconds (instead of a cron expression), from `nextOccurrenceAt` or now. */
  intervalMs?: number;
  /** IANA zone, default `UTC`. */
  timezone?: string;
  /**
   * One-shot events: when they run. Cron events: checked against the expression and replaced when
   * it disagrees (the response's `adjustments` say so). Interval events: the first run.
   */
  nextOccurrenceAt?: string;
  maxOccurrences?: number;
  channelId?: string;
  metadata?: Record<string, unknown>;
}
export interface SyncScheduleEventInput extends ScheduleEventInput { externalId: string }

/** A value the client sent that the server did not use, and why. */
export interface ScheduleAdjustment {
  eventId: string;
  externalId: string | null;
  field: 'nextOccurrenceAt';
  sent: string;
  used: string | null;
  reason: string;
}

/** `POST /schedule/sync`. */
export interface SyncScheduleResult {
  /** New jobs. Unchanged jobs count as neither created nor updated. */
  created: number;
  updated: number;
  /** Active or paused jobs missing from the sync, now cancelled. */
  removed: number;
  events: ScheduleEvent[];
  adjustments: ScheduleAdjustment[];
}

export interface ScheduleEventResult { event: ScheduleEvent; adjustments: ScheduleAdjustment[] }

export interface ScheduleEventPatch {
  title?: string;
  description?: string | null;
  /** `paused` stops runs and missed-run flags; `active` resumes from now. */
  status?: 'active' | 'paused' | 'cancelled';
  cronExpression?: string;
  intervalMs?: number;
  timezone?: string;
  nextOccurrenceAt?: string;
  maxOccurrences?: number | null;
  channelId?: string | null;
  metadata?: Record<string, unknown>;
}

export interface ScheduleOccurrence {
  id: string;
  eventId: string;
  scheduledAt: string;
  status: OccurrenceStatus;
  result: string | null;
  durationMs: number | null;
  recordedAt: string;
}

export interface RecordOccurrenceInput {
  scheduledAt: string;
  status: Exclude<OccurrenceStatus, 'missed'>;
  result?: string;
  durationMs?: number;
  /** Checked like `ScheduleEventInput.nextOccurrenceAt`; a one-shot event is rescheduled to it. */
  nextOccurrenceAt?: string;
}
export interface RecordOccurrenceResult { occurrence: ScheduleOccurrence; event: ScheduleEvent; adjustments: ScheduleAdjustment[] }

/** One run on the calendar: past runs carry their recorded status, future ones `scheduled`. */
export interface CalendarOccurrence {
  eventId: string;
  agentId: string;
  externalId: string | null;
  title: string;
  channelId: string | null;
  timezone: string;
  scheduledAt: string;
  status: OccurrenceStatus | 'scheduled';
  result: string | null;
  durationMs: number | null;
}

/** `GET /schedule/calendar`. */
export interface ScheduleCalendar {
  from: string;
  /** The end actually covered: earlier than asked when the range exceeded the cap. */
  to: string;
  occurrences: CalendarOccurrence[];
  /** True when the range or the number of occurrences was capped; `notice` says which. */
  truncated: boolean;
  notice: string | null;
}
