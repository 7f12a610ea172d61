import { EventType, inboxStream, type ScheduleAdjustment, type ScheduleCalendar, type CalendarOccurrence } from '@sesamespace/sdk/protocol';
import type { Static } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { AuthContext } from '../../../shared/auth/authenticate.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { Db } from '../../../shared/db/database.js';
import { isUniqueViolation } from '../../../shared/db/errors.js';
import type { Principal, ScheduleEventRow, ScheduleStatus } from '../../../shared/db/schema.js';
import { conflict, forbidden, notFound, unprocessable } from '../../../shared/errors.js';
import { withEvents, type EventBatch, type Trx } from '../../../shared/events.js';
import { actsAsAdmin } from '../../../shared/http/authentication.js';
import { newId } from '../../../shared/ids.js';
import { assertTimeZone, parseCron, recurrenceOf, slotAfter, slotFrom, type Recurrence } from '../../../shared/schedules/recurrence.js';
import { channelForMember } from '../channels/access.js';
import type { CalendarQuery, CreateEventBody, RecordOccurrenceBody, UpdateEventBody } from './schemas.js';
import { occurrenceToWire, scheduleEventToWire } from './wire.js';

type EventInput = Static<typeof CreateEventBody>;

/** What defines an event, normalised: two inputs with equal definitions are the same job. */
interface Definition {
  title: string;
  description: string | null;
  cronExpression: string | null;
  intervalMs: number | null;
  timezone: string;
  maxOccurrences: number | null;
  channelId: string | null;
  metadata: Record<string, unknown>;
}

interface Planned { next: Date | null; anchor: Date | null; adjustment: Omit<ScheduleAdjustment, 'eventId' | 'externalId'> | null }

/** Validates an input (422s name the field, prefixed for sync entries) and normalises it. */
function define(input: EventInput, prefix = ''): { def: Definition; sent: Date | null } {
  if (input.cronExpression !== undefined && input.intervalMs !== undefined) {
    throw unprocessable(`${prefix}intervalMs: give cronExpression or intervalMs, not both`, { field: `${prefix}intervalMs` });
  }
  const timezone = input.timezone ?? 'UTC';
  assertTimeZone(timezone, `${prefix}timezone`);
  if (input.cronExpression !== undefined) parseCron(input.cronExpression, timezone, prefix);
  const sent = input.nextOccurrenceAt === undefined ? null : new Date(input.nextOccurrenceAt);
  if (input.cronExpression === undefined && input.intervalMs === undefined && sent === null) {
    throw unprocessable(`${prefix}nextOccurrenceAt: required for a one-shot event (one without cronExpression or intervalMs)`, { field: `${prefix}nextOccurrenceAt` });
  }
  return {
    def: {
      title: input.title, description: input.description ?? null, cronExpression: input.cronExpression?.trim() ?? null, intervalMs: input.intervalMs ?? null,
      timezone, maxOccurrences: input.maxOccurrences ?? null, channelId: input.channelId ?? null, metadata: input.metadata ?? {},
    },
    sent,
  };
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const sameInstant = (a: Date | null, b: Date | null) => (a === null ? b === null : b !== null && a.getTime() === b.getTime());

/**
 * When a new (or redefined, or resumed) event runs first. Cron: the next slot after now — a sent
 * value that disagrees is replaced, never trusted. Interval: slots from the sent time (or one
 * interval from now), advanced past now. One-shot: the sent time is the definition.
 */
function plan(def: Definition, sent: Date | null, now: Date, prefix = ''): Planned {
  if (def.cronExpression !== null) {
    const next = slotAfter({ kind: 'cron', expression: def.cronExpression, timezone: def.timezone }, now);
    if (next === null) throw unprocessable(`${prefix}cronExpression: '${def.cronExpression}' never fires`, { field: `${prefix}cronExpression` });
    const adjustment = sent && !sameInstant(sent, next)
      ? { field: 'nextOccurrenceAt' as const, sent: sent.toISOString(), used: iso(next), reason: `does not match '${def.cronExpression}' in ${def.timezone}: the next run after now is ${iso(next) ?? 'never'}` }
      : null;
    return { next, anchor: null, adjustment };
  }
  if (def.intervalMs !== null) {
    const anchor = sent ?? new Date(now.getTime() + def.intervalMs);
    const next = slotFrom({ kind: 'interval', intervalMs: def.intervalMs, anchor }, now);
    const adjustment = sent && !sameInstant(sent, next)
      ? { field: 'nextOccurrenceAt' as const, sent: sent.toISOString(), used: iso(next), reason: `is in the past: advanced by whole intervals of ${def.intervalMs} ms to the next run after now` }
      : null;
    return { next, anchor, adjustment };
  }
  return { next: sent, anchor: sent, adjustment: null };
}

/** A sent `nextOccurrenceAt` for an unchanged cron or interval event: checked against what is stored. */
function check(row: ScheduleEventRow, sent: Date | null): Planned['adjustment'] {
  if (sent === null || row.next_occurrence_at === null || (row.cron_expression === null && row.interval_ms === null)) return null;
  if (sameInstant(sent, row.next_occurrence_at)) return null;
  const rule = row.cron_expression !== null ? `'${row.cron_expression}' in ${row.timezone}` : `every ${row.interval_ms} ms`;
  return { field: 'nextOccurrenceAt', sent: sent.toISOString(), used: iso(row.next_occurrence_at), reason: `does not match ${rule}: the stored next run is kept` };
}

/** Keys sorted at every level, so `{a, b}` and `{b, a}` compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : v));
}

function definitionOf(row: ScheduleEventRow): Definition {
  return {
    title: row.title, description: row.description, cronExpression: row.cron_expression, intervalMs: row.interval_ms,
    timezone: row.timezone, maxOccurrences: row.max_occurrences, channelId: row.channel_id, metadata: row.metadata,
  };
}

function ruleChanged(a: Definition, b: Definition): boolean {
  return a.cronExpression !== b.cronExpression || a.intervalMs !== b.intervalMs || a.timezone !== b.timezone;
}

function definitionChanged(a: Definition, b: Definition): boolean {
  return ruleChanged(a, b) || a.title !== b.title || a.description !== b.description || a.maxOccurrences !== b.maxOccurrences
    || a.channelId !== b.channelId || canonical(a.metadata) !== canonical(b.metadata);
}

function columns(def: Definition) {
  return {
    title: def.title, description: def.description, cron_expression: def.cronExpression, interval_ms: def.intervalMs, timezone: def.timezone,
    max_occurrences: def.maxOccurrences, channel_id: def.channelId, metadata: JSON.stringify(def.metadata),
  };
}

/** Channels an event posts to must be ones the owner can read (and so may post to). */
async function assertChannels(trx: Trx, me: Principal, channelIds: Iterable<string | null>) {
  for (const id of new Set(channelIds)) if (id !== null) await channelForMember(trx, me, id);
}

const withAdjustment = (row: ScheduleEventRow, adjustment: Planned['adjustment']): ScheduleAdjustment[] =>
  adjustment ? [{ eventId: row.id, externalId: row.external_id, ...adjustment }] : [];

/**
 * `syncSchedule`: makes the caller's externally-identified events exactly `inputs`, in one
 * transaction. New ids are created, changed ones updated, unchanged ones left alone (counted in
 * neither), active or paused ones missing from `inputs` cancelled. The caller's principal row is
 * locked first, so two syncs of one agent run one after the other.
 */
export async function syncSchedule(ctx: ServiceContext, me: Principal, inputs: (EventInput & { externalId: string })[], now = new Date()) {
  const seen = new Set<string>();
  const defined = inputs.map((input, i) => {
    if (seen.has(input.externalId)) throw unprocessable(`events[${i}].externalId: '${input.externalId}' appears more than once`, { field: `events[${i}].externalId` });
    seen.add(input.externalId);
    return { externalId: input.externalId, prefix: `events[${i}].`, ...define(input, `events[${i}].`) };
  });
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    await trx.selectFrom('principals').select('id').where('id', '=', me.id).forUpdate().execute();
    await assertChannels(trx, me, defined.map((d) => d.def.channelId));
    const existing = await trx.selectFrom('schedule_events').selectAll().where('agent_id', '=', me.id).where('external_id', 'is not', null).execute();
    const byExternalId = new Map(existing.map((row) => [row.external_id, row]));
    const result: ScheduleEventRow[] = [];
    const adjustments: ScheduleAdjustment[] = [];
    const inserts: ScheduleEventRow[] = [];
    let updated = 0;
    for (const { externalId, prefix, def, sent } of defined) {
      const row = byExternalId.get(externalId);
      if (!row) {
        const planned = plan(def, sent, now, prefix);
        const fresh: ScheduleEventRow = {
          id: newId('sch'), workspace_id: me.workspace_id, agent_id: me.id, external_id: externalId, ...columns(def), metadata: def.metadata,
          status: 'active', occurrence_count: 0, next_occurrence_at: planned.next, anchor_at: planned.anchor, created_at: now, updated_at: now,
        };
        inserts.push(fresh);
        result.push(fresh);
        adjustments.push(...withAdjustment(fresh, planned.adjustment));
        continue;
      }
      const before = definitionOf(row);
      const oneShotMoved = def.cronExpression === null && def.intervalMs === null && !sameInstant(sent, row.anchor_at);
      const reactivate = row.status === 'cancelled';
      if (!definitionChanged(before, def) && !oneShotMoved && !reactivate) {
        result.push(row);
        adjustments.push(...withAdjustment(row, check(row, sent)));
        continue;
      }
      const replan = ruleChanged(before, def) || oneShotMoved || reactivate;
      const planned = replan ? plan(def, sent, now, prefix) : null;
      const status: ScheduleStatus = reactivate || (oneShotMoved && row.status === 'completed') ? 'active' : row.status;
      const next = await trx.updateTable('schedule_events').set({
        ...columns(def), status, updated_at: now,
        ...(planned ? { next_occurrence_at: planned.next, anchor_at: planned.anchor } : {}),
      }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
      updated += 1;
      result.push(next);
      adjustments.push(...withAdjustment(next, planned ? planned.adjustment : check(next, sent)));
    }
    for (let i = 0; i < inserts.length; i += 500) {
      await trx.insertInto('schedule_events').values(inserts.slice(i, i + 500).map((row) => ({ ...row, metadata: JSON.stringify(row.metadata) }))).execute();
    }
    const gone = existing.filter((row) => !seen.has(row.external_id ?? '') && (row.status === 'active' || row.status === 'paused')).map((row) => row.id);
    if (gone.length) {
      await trx.updateTable('schedule_events').set({ status: 'cancelled', next_occurrence_at: null, updated_at: now }).where('id', 'in', gone).execute();
    }
    const counts = { created: inserts.length, updated, removed: gone.length };
    if (counts.created + counts.updated + counts.removed > 0) {
      await events.append(inboxStream(me.id), EventType.ScheduleSynced, { agentId: me.id, ...counts });
    }
    return { ...counts, events: result.map(scheduleEventToWire), adjustments };
  });
}

export async function createScheduleEvent(ctx: ServiceContext, me: Principal, input: EventInput, now = new Date()) {
  const { def, sent } = define(input);
  const planned = plan(def, sent, now);
  try {
    return await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
      await assertChannels(trx, me, [def.channelId]);
      const row = await trx.insertInto('schedule_events').values({
        id: newId('sch'), workspace_id: me.workspace_id, agent_id: me.id, external_id: input.externalId ?? null, ...columns(def),
        status: 'active', next_occurrence_at: planned.next, anchor_at: planned.anchor, created_at: now, updated_at: now,
      }).returningAll().executeTakeFirstOrThrow();
      const event = scheduleEventToWire(row);
      await events.append(inboxStream(me.id), EventType.ScheduleUpdated, { event, updatedBy: me.id });
      return { event, adjustments: withAdjustment(row, planned.adjustment) };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict(`externalId: '${input.externalId ?? ''}' already names another of your events (syncSchedule upserts by it)`);
    throw err;
  }
}

/** An event of the caller's workspace (another workspace's is a 404). */
export async function eventInWorkspace(db: Db, me: Principal, id: string, lock = false): Promise<ScheduleEventRow> {
  let query = db.selectFrom('schedule_events').selectAll().where('id', '=', id).where('workspace_id', '=', me.workspace_id);
  if (lock) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw notFound('Schedule event');
  return row;
}

function assertOwner(row: ScheduleEventRow, auth: AuthContext) {
  if (row.agent_id !== auth.principal.id && !actsAsAdmin(auth)) throw forbidden('Only the agent that owns this schedule event (or a workspace admin) can change it');
}

/** Events of the owner's inbox and, when set, of the event's channel. */
async function announce(events: EventBatch, row: ScheduleEventRow, type: string, data: unknown) {
  await events.append(inboxStream(row.agent_id), type, data);
  if (row.channel_id !== null) await events.append(row.channel_id, type, data);
}

export async function updateScheduleEvent(ctx: ServiceContext, auth: AuthContext, id: string, patch: Static<typeof UpdateEventBody>, now = new Date()) {
  const me = auth.principal;
  if (patch.cronExpression !== undefined && patch.intervalMs !== undefined) throw unprocessable('intervalMs: give cronExpression or intervalMs, not both', { field: 'intervalMs' });
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const row = await eventInWorkspace(trx, me, id, true);
    assertOwner(row, auth);
    const before = definitionOf(row);
    const def: Definition = {
      ...before,
      ...(patch.title !== undefined ? { title: patch.title } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.cronExpression !== undefined ? { cronExpression: patch.cronExpression.trim(), intervalMs: null } : {}),
      ...(patch.intervalMs !== undefined ? { intervalMs: patch.intervalMs, cronExpression: null } : {}),
      ...(patch.timezone !== undefined ? { timezone: patch.timezone } : {}),
      ...(patch.maxOccurrences !== undefined ? { maxOccurrences: patch.maxOccurrences } : {}),
      ...(patch.channelId !== undefined ? { channelId: patch.channelId } : {}),
      ...(patch.metadata !== undefined ? { metadata: patch.metadata } : {}),
    };
    assertTimeZone(def.timezone);
    if (def.cronExpression !== null) parseCron(def.cronExpression, def.timezone);
    if (patch.channelId) await assertChannels(trx, me, [patch.channelId]);
    const sent = patch.nextOccurrenceAt === undefined ? null : new Date(patch.nextOccurrenceAt);
    let status: ScheduleStatus = patch.status ?? row.status;
    const resumed = patch.status === 'active' && row.status !== 'active';
    let planned: Planned | null = null;
    if (status === 'cancelled') {
      planned = { next: null, anchor: row.anchor_at, adjustment: null };
    } else if (ruleChanged(before, def) || sent !== null || resumed) {
      // A resumed event starts from now: the runs due while it was paused are not missed runs.
      // Interval slots keep their anchor and a one-shot its time unless the patch moves them.
      const seed = sent ?? (def.cronExpression === null && !(ruleChanged(before, def) && def.intervalMs !== null) ? row.anchor_at : null);
      planned = plan(def, seed, now);
      if (sent === null) planned.adjustment = null;
      if (row.status === 'completed' && sent !== null) status = 'active';
    }
    if (def.maxOccurrences !== null && row.occurrence_count >= def.maxOccurrences && status !== 'cancelled') status = 'completed';
    const updated = await trx.updateTable('schedule_events').set({
      ...columns(def), status, updated_at: now,
      ...(planned ? { next_occurrence_at: status === 'completed' ? null : planned.next, anchor_at: planned.anchor } : {}),
    }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
    const event = scheduleEventToWire(updated);
    await events.append(inboxStream(updated.agent_id), EventType.ScheduleUpdated, { event, updatedBy: me.id });
    return { event, adjustments: withAdjustment(updated, planned?.adjustment ?? null) };
  });
}

export async function deleteScheduleEvent(ctx: ServiceContext, auth: AuthContext, id: string) {
  const me = auth.principal;
  await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const row = await eventInWorkspace(trx, me, id, true);
    assertOwner(row, auth);
    await trx.deleteFrom('schedule_events').where('id', '=', row.id).execute();
    await events.append(inboxStream(row.agent_id), EventType.ScheduleUpdated, { event: scheduleEventToWire(row), deleted: true, updatedBy: me.id });
  });
}

/**
 * Records a run (an upsert on `(event, scheduledAt)`: a retry, or a late report of a run the
 * worker had marked `missed`, updates the one row and counts once), then moves the event on:
 * cron and interval events to their next slot after now, one-shots to done unless rescheduled.
 */
export async function recordOccurrence(ctx: ServiceContext, auth: AuthContext, id: string, input: Static<typeof RecordOccurrenceBody>, now = new Date()) {
  const me = auth.principal;
  const scheduledAt = new Date(input.scheduledAt);
  return withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
    const row = await eventInWorkspace(trx, me, id, true);
    assertOwner(row, auth);
    const stored = await sql<{ inserted: boolean } & Record<string, unknown>>`
      INSERT INTO schedule_occurrences (id, event_id, workspace_id, scheduled_at, status, result, duration_ms, recorded_at)
      VALUES (${newId('occ')}, ${row.id}, ${row.workspace_id}, ${scheduledAt}, ${input.status}, ${input.result ?? null}, ${input.durationMs ?? null}, ${now})
      ON CONFLICT (event_id, scheduled_at) DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result, duration_ms = EXCLUDED.duration_ms, recorded_at = EXCLUDED.recorded_at
      RETURNING id, (xmax = 0) AS inserted`.execute(trx);
    const { id: occurrenceId, inserted } = stored.rows[0] as { id: string; inserted: boolean };
    const count = row.occurrence_count + (inserted ? 1 : 0);
    const sent = input.nextOccurrenceAt === undefined ? null : new Date(input.nextOccurrenceAt);
    const rule: Recurrence = recurrenceOf(row);
    let next: Date | null;
    let adjustment: Planned['adjustment'] = null;
    let anchor = row.anchor_at;
    if (rule.kind === 'once') {
      next = sent;
      if (sent) anchor = sent;
    } else {
      next = slotAfter(rule, new Date(Math.max(now.getTime(), scheduledAt.getTime())));
      if (sent && !sameInstant(sent, next)) {
        const what = rule.kind === 'cron' ? `'${rule.expression}' in ${rule.timezone}` : `every ${rule.intervalMs} ms`;
        adjustment = { field: 'nextOccurrenceAt', sent: sent.toISOString(), used: iso(next), reason: `does not match ${what}: the next run after now is ${iso(next) ?? 'never'}` };
      }
    }
    let status = row.status;
    if ((row.max_occurrences !== null && count >= row.max_occurrences) || (next === null && status === 'active')) {
      status = 'completed';
      next = null;
    }
    const updated = await trx.updateTable('schedule_events').set({ occurrence_count: count, next_occurrence_at: status === 'cancelled' ? null : next, anchor_at: anchor, status, updated_at: now })
      .where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
    const occurrenceRow = await trx.selectFrom('schedule_occurrences').selectAll().where('id', '=', occurrenceId).executeTakeFirstOrThrow();
    const occurrence = occurrenceToWire(occurrenceRow);
    await announce(events, updated, EventType.ScheduleOccurrence, {
      eventId: updated.id, agentId: updated.agent_id, title: updated.title, occurrence, nextOccurrenceAt: iso(updated.next_occurrence_at),
    });
    return { occurrence, event: scheduleEventToWire(updated), adjustments: withAdjustment(updated, adjustment) };
  });
}

// ---- calendar ------------------------------------------------------------------------------

const CALENDAR_MAX_DAYS = 92;
const CALENDAR_MAX_OCCURRENCES = 5000;
const DAY_MS = 86_400_000;

/** A min-heap of per-event slot iterators, so the earliest `max` slots of N events cost O(max log N). */
class SlotQueue {
  private readonly heap: { at: number; index: number }[] = [];
  push(at: number, index: number) {
    const heap = this.heap;
    heap.push({ at, index });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent].at <= heap[i].at) break;
      [heap[parent], heap[i]] = [heap[i], heap[parent]];
      i = parent;
    }
  }
  pop(): { at: number; index: number } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l].at < heap[m].at) m = l;
        if (r < heap.length && heap[r].at < heap[m].at) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i], heap[m]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * Every run in `[from, to)`: recorded ones with their status, and — for active events — the
 * runs still to come, computed from each event's next occurrence. Paused and cancelled events
 * are left out unless `includeInactive`. The range is capped at CALENDAR_MAX_DAYS and the count
 * at CALENDAR_MAX_OCCURRENCES; `truncated` and `notice` say when either cut in.
 */
export async function calendar(ctx: ServiceContext, me: Principal, query: Static<typeof CalendarQuery>, now = new Date()): Promise<ScheduleCalendar> {
  const from = new Date(query.from);
  let to = new Date(query.to);
  if (to.getTime() <= from.getTime()) throw unprocessable('to: must be after from', { field: 'to' });
  const notices: string[] = [];
  if (to.getTime() - from.getTime() > CALENDAR_MAX_DAYS * DAY_MS) {
    to = new Date(from.getTime() + CALENDAR_MAX_DAYS * DAY_MS);
    notices.push(`the range is capped at ${CALENDAR_MAX_DAYS} days: covered until ${to.toISOString()}; ask again from there for more`);
  }
  const statuses: ScheduleStatus[] = query.includeInactive ? ['active', 'completed', 'paused', 'cancelled'] : ['active', 'completed'];
  let eventsQuery = ctx.db.selectFrom('schedule_events').selectAll().where('workspace_id', '=', me.workspace_id).where('status', 'in', statuses);
  if (query.agentId) eventsQuery = eventsQuery.where('agent_id', '=', query.agentId);
  if (query.channelId) eventsQuery = eventsQuery.where('channel_id', '=', query.channelId);
  const rows = await eventsQuery.orderBy('id').execute();
  const entries: CalendarOccurrence[] = [];
  const entry = (row: ScheduleEventRow, at: Date, extra: Pick<CalendarOccurrence, 'status' | 'result' | 'durationMs'>): CalendarOccurrence => ({
    eventId: row.id, agentId: row.agent_id, externalId: row.external_id, title: row.title, channelId: row.channel_id, timezone: row.timezone,
    scheduledAt: at.toISOString(), ...extra,
  });
  const recorded = new Set<string>();
  if (rows.length) {
    const byId = new Map(rows.map((row) => [row.id, row]));
    const past = await ctx.db.selectFrom('schedule_occurrences').selectAll().where('workspace_id', '=', me.workspace_id)
      .where('event_id', 'in', [...byId.keys()]).where('scheduled_at', '>=', from).where('scheduled_at', '<', to)
      .orderBy('scheduled_at').limit(CALENDAR_MAX_OCCURRENCES + 1).execute();
    for (const occurrence of past) {
      const row = byId.get(occurrence.event_id);
      if (!row) continue;
      const at = new Date(occurrence.scheduled_at);
      recorded.add(`${row.id}@${at.getTime()}`);
      entries.push(entry(row, at, { status: occurrence.status, result: occurrence.result, durationMs: occurrence.duration_ms }));
    }
  }
  // Runs to come: from each active event's next occurrence (or `from`, if later), earliest first.
  const upcoming = rows.filter((row) => row.status === 'active' && row.next_occurrence_at !== null);
  const rules = upcoming.map((row) => recurrenceOf(row));
  const remaining = upcoming.map((row) => (row.max_occurrences === null ? Infinity : row.max_occurrences - row.occurrence_count));
  const queue = new SlotQueue();
  upcoming.forEach((row, i) => {
    const start = new Date(Math.max(from.getTime(), new Date(row.next_occurrence_at ?? now).getTime()));
    const first = rules[i].kind === 'once' ? row.next_occurrence_at : slotFrom(rules[i], start);
    if (first && first.getTime() >= from.getTime() && first.getTime() < to.getTime() && remaining[i] > 0) queue.push(first.getTime(), i);
  });
  let computed = 0;
  for (let item = queue.pop(); item && computed <= CALENDAR_MAX_OCCURRENCES; item = queue.pop()) {
    const row = upcoming[item.index];
    const at = new Date(item.at);
    if (!recorded.has(`${row.id}@${item.at}`)) {
      entries.push(entry(row, at, { status: 'scheduled', result: null, durationMs: null }));
      computed += 1;
    }
    remaining[item.index] -= 1;
    const following = remaining[item.index] > 0 ? slotAfter(rules[item.index], at) : null;
    if (following && following.getTime() < to.getTime()) queue.push(following.getTime(), item.index);
  }
  entries.sort((a, b) => (a.scheduledAt < b.scheduledAt ? -1 : a.scheduledAt > b.scheduledAt ? 1 : a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  let truncated = notices.length > 0;
  if (entries.length > CALENDAR_MAX_OCCURRENCES) {
    const last = entries[CALENDAR_MAX_OCCURRENCES - 1].scheduledAt;
    entries.length = CALENDAR_MAX_OCCURRENCES;
    truncated = true;
    notices.push(`at most ${CALENDAR_MAX_OCCURRENCES} occurrences are returned: complete until ${last}; ask again from there for more`);
  }
  return { from: from.toISOString(), to: to.toISOString(), occurrences: entries, truncated, notice: notices.length ? notices.join('; ') : null };
}

export async function listEvents(ctx: ServiceContext, me: Principal, query: { status?: ScheduleStatus; agentId?: string }) {
  let q = ctx.db.selectFrom('schedule_events').selectAll().where('workspace_id', '=', me.workspace_id).where('agent_id', '=', query.agentId ?? me.id);
  if (query.status) q = q.where('status', '=', query.status);
  const rows = await q.orderBy('created_at').orderBy('id').execute();
  return rows.map(scheduleEventToWire);
}

export async function listOccurrences(ctx: ServiceContext, me: Principal, id: string, limit: number) {
  const row = await eventInWorkspace(ctx.db, me, id);
  const rows = await ctx.db.selectFrom('schedule_occurrences').selectAll().where('event_id', '=', row.id).orderBy('scheduled_at', 'desc').limit(limit).execute();
  return rows.map(occurrenceToWire);
}
