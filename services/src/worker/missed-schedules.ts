import { EventType, inboxStream } from '@sesamespace/sdk/protocol';
import { sql } from 'kysely';
import type { ServiceContext } from '../shared/context.js';
import type { ScheduleStatus } from '../shared/db/schema.js';
import { withEvents } from '../shared/events.js';
import { newId } from '../shared/ids.js';
import { recurrenceOf, slotAfter } from '../shared/schedules/recurrence.js';

/** Candidates looked at per pass, and missed slots recorded per event per pass (the rest are skipped over). */
const BATCH = 100;
const MAX_SLOTS_PER_EVENT = 100;

/**
 * Flags runs that did not happen: an active event whose `nextOccurrenceAt` passed more than
 * `SESAME_SCHEDULE_GRACE_SECONDS` ago without a recorded occurrence gets a `missed` occurrence
 * for each slot that passed (at most MAX_SLOTS_PER_EVENT per pass), moves on to its next slot,
 * and `schedule.missed` goes to the owner's inbox and the event's channel. Each event is claimed
 * with `FOR UPDATE SKIP LOCKED` and re-checked under the lock, so several workers never flag a
 * run twice and never wait on each other. `now` is injectable so tests need no sleeping.
 * Returns how many missed occurrences it recorded.
 */
export async function flagMissedRuns(ctx: ServiceContext, now: Date = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - ctx.config.SESAME_SCHEDULE_GRACE_SECONDS * 1000);
  let flagged = 0;
  let after = '';
  for (;;) {
    const candidates = await ctx.db.selectFrom('schedule_events').select(['id', 'workspace_id'])
      .where('status', '=', 'active').where('next_occurrence_at', '<', cutoff).where('id', '>', after)
      .orderBy('id').limit(BATCH).execute();
    for (const candidate of candidates) flagged += await flagEvent(ctx, candidate.id, candidate.workspace_id, cutoff, now);
    if (candidates.length < BATCH) return flagged;
    after = candidates[candidates.length - 1].id;
  }
}

async function flagEvent(ctx: ServiceContext, id: string, workspaceId: string, cutoff: Date, now: Date): Promise<number> {
  return withEvents(ctx.db, workspaceId, ctx.publish, async (trx, events) => {
    const row = await trx.selectFrom('schedule_events').selectAll().where('id', '=', id)
      .where('status', '=', 'active').where('next_occurrence_at', '<', cutoff).forUpdate().skipLocked().executeTakeFirst();
    if (!row?.next_occurrence_at) return 0;
    const rule = recurrenceOf(row);
    const left = row.max_occurrences === null ? Infinity : row.max_occurrences - row.occurrence_count;
    const slots: Date[] = [];
    let next: Date | null = new Date(row.next_occurrence_at);
    while (next && next.getTime() < cutoff.getTime() && slots.length < Math.min(MAX_SLOTS_PER_EVENT, left)) {
      slots.push(next);
      next = slotAfter(rule, next);
    }
    // Past the per-pass cap, skip the older slots rather than spend the pass on one event.
    if (next && next.getTime() < cutoff.getTime()) next = slotAfter(rule, cutoff);
    const missed: Date[] = [];
    for (const slot of slots) {
      // A run the agent recorded without moving the event on is not missed.
      const inserted = await sql`
        INSERT INTO schedule_occurrences (id, event_id, workspace_id, scheduled_at, status, recorded_at)
        VALUES (${newId('occ')}, ${row.id}, ${row.workspace_id}, ${slot}, 'missed', ${now})
        ON CONFLICT (event_id, scheduled_at) DO NOTHING`.execute(trx);
      if (Number(inserted.numAffectedRows ?? 0) > 0) missed.push(slot);
    }
    const count = row.occurrence_count + missed.length;
    const done = next === null || (row.max_occurrences !== null && count >= row.max_occurrences);
    const status: ScheduleStatus = done ? 'completed' : 'active';
    await trx.updateTable('schedule_events')
      .set({ occurrence_count: count, next_occurrence_at: done ? null : next, status, updated_at: now })
      .where('id', '=', row.id).execute();
    if (missed.length === 0) return 0;
    const data = {
      eventId: row.id, agentId: row.agent_id, title: row.title, missed: missed.map((d) => d.toISOString()), status: 'missed' as const,
      nextOccurrenceAt: done || !next ? null : next.toISOString(),
    };
    await events.append(inboxStream(row.agent_id), EventType.ScheduleMissed, data);
    if (row.channel_id !== null) await events.append(row.channel_id, EventType.ScheduleMissed, data);
    return missed.length;
  });
}
