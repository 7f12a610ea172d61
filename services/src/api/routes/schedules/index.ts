import { Type } from '@sinclair/typebox';
import type { ServiceContext } from '../../../shared/context.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, IdParams, NoContent, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import {
  CalendarQuery, CalendarSchema, CreateEventBody, EventResultSchema, ListEventsQuery, OccurrenceSchema, OccurrencesQuery, RecordOccurrenceBody,
  RecordResultSchema, ScheduleEventSchema, SyncBody, SyncResultSchema, UpdateEventBody,
} from './schemas.js';
import {
  calendar, createScheduleEvent, deleteScheduleEvent, eventInWorkspace, listEvents, listOccurrences, recordOccurrence, syncSchedule, updateScheduleEvent,
} from './service.js';
import { scheduleEventToWire } from './wire.js';

/**
 * Schedules: agents sync their timed jobs (`POST /schedule/sync`), record what happened at each
 * run, and everyone in the workspace reads them, down to a calendar of runs past and to come.
 * Changing an event is for the agent that owns it (or a workspace admin).
 */
export async function scheduleRoutes(app: TypedApp, ctx: ServiceContext) {
  const tags = ['schedules'];

  app.post('/schedule/sync', {
    config: { scope: 'write' },
    schema: {
      tags, summary: 'Make your schedule exactly these events (idempotent upsert by externalId; missing ones are cancelled)',
      body: SyncBody, response: { 200: Data(SyncResultSchema), ...errorResponses },
    },
  }, async (request) => ({ data: await syncSchedule(ctx, caller(request).principal, request.body.events) }));

  app.post('/schedule/events', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Create one event (one-shot, cron or interval)', body: CreateEventBody, response: { 201: Data(EventResultSchema), ...errorResponses } },
  }, async (request, reply) => {
    const result = await createScheduleEvent(ctx, caller(request).principal, request.body);
    reply.status(201);
    return { data: result };
  });

  app.get('/schedule/events', {
    config: { scope: 'read' },
    schema: { tags, summary: 'Your events (or another agent\'s of your workspace)', querystring: ListEventsQuery, response: { 200: Data(Type.Array(ScheduleEventSchema)), ...errorResponses } },
  }, async (request) => ({ data: await listEvents(ctx, caller(request).principal, request.query) }));

  app.get('/schedule/events/:id', {
    config: { scope: 'read' },
    schema: { tags, summary: 'One event', params: IdParams, response: { 200: Data(ScheduleEventSchema), ...errorResponses } },
  }, async (request) => ({ data: scheduleEventToWire(await eventInWorkspace(ctx.db, caller(request).principal, request.params.id)) }));

  app.patch('/schedule/events/:id', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Pause, resume, cancel, reschedule or rename an event', params: IdParams, body: UpdateEventBody, response: { 200: Data(EventResultSchema), ...errorResponses } },
  }, async (request) => ({ data: await updateScheduleEvent(ctx, caller(request), request.params.id, request.body) }));

  app.delete('/schedule/events/:id', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Delete an event and its history', params: IdParams, response: { 204: NoContent, ...errorResponses } },
  }, async (request, reply) => {
    await deleteScheduleEvent(ctx, caller(request), request.params.id);
    return reply.status(204).send(null);
  });

  app.post('/schedule/events/:id/occurrences', {
    config: { scope: 'write' },
    schema: { tags, summary: 'Record what happened at a run', params: IdParams, body: RecordOccurrenceBody, response: { 201: Data(RecordResultSchema), ...errorResponses } },
  }, async (request, reply) => {
    const result = await recordOccurrence(ctx, caller(request), request.params.id, request.body);
    reply.status(201);
    return { data: result };
  });

  app.get('/schedule/events/:id/occurrences', {
    config: { scope: 'read' },
    schema: { tags, summary: 'Recorded runs, newest first', params: IdParams, querystring: OccurrencesQuery, response: { 200: Data(Type.Array(OccurrenceSchema)), ...errorResponses } },
  }, async (request) => ({ data: await listOccurrences(ctx, caller(request).principal, request.params.id, request.query.limit ?? 20) }));

  app.get('/schedule/calendar', {
    config: { scope: 'read' },
    schema: { tags, summary: 'Runs in a time range, past (recorded) and to come (computed)', querystring: CalendarQuery, response: { 200: Data(CalendarSchema), ...errorResponses } },
  }, async (request) => ({ data: await calendar(ctx, caller(request).principal, request.query) }));
}
