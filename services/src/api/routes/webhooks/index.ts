import { Type } from '@sinclair/typebox';
import { sql, type Selectable, type Updateable } from 'kysely';
import { appendAudit } from '../../../shared/audit.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { Db } from '../../../shared/db/database.js';
import type { WebhookAttemptTable, WebhookDeliveryTable, WebhookTable } from '../../../shared/db/schema.js';
import { notFound, unprocessable } from '../../../shared/errors.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, IdParams, NoContent, Page, decodeCursor, encodeCursor, errorResponses, pageOf } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { newId } from '../../../shared/ids.js';
import { outboundAllowList, refusedOutboundUrl } from '../../../shared/outbound/index.js';
import { newDeliveryId, payloadBody, randomMessageId } from '../../../shared/webhooks/delivery.js';
import { isSubscribable } from '../../../shared/webhooks/event-types.js';
import { sealWebhookSecret } from '../../../shared/webhooks/secret-sealing.js';
import { newWebhookSecret } from '../../../shared/webhooks/signing.js';
import { iso } from '../../wire.js';
import {
  CreateWebhookBody, DEFAULT_SECRET_OVERLAP_SECONDS, DeliveryParams, ListDeliveriesQuery, ListWebhooksQuery, ReplayEventsBody, RotateSecretBody,
  UpdateWebhookBody, WebhookDeliverySchema, WebhookSchema,
} from './schemas.js';

function webhookToWire(w: Selectable<WebhookTable>) {
  return {
    id: w.id, url: w.url, description: w.description, eventTypes: w.event_types, enabled: w.enabled, disabledReason: w.disabled_reason,
    disabledAt: iso(w.disabled_at), ownerId: w.owner_id, createdAt: iso(w.created_at), updatedAt: iso(w.updated_at),
  };
}

/**
 * A delivery sent again (either replay route): pending at once, its retry schedule started over
 * and any worker's lease on it dropped. One definition, so the two routes cannot drift apart.
 */
function queuedAgain(now: Date): Updateable<WebhookDeliveryTable> {
  return { status: 'pending', retry_step: 0, next_attempt_at: now, lease_until: null, updated_at: now };
}

function deliveryToWire(d: Selectable<WebhookDeliveryTable>, attempts: Array<Selectable<WebhookAttemptTable>>) {
  return {
    id: d.id, webhookId: d.webhook_id, messageId: d.message_id, eventType: d.event_type, stream: d.event_stream,
    seq: d.event_seq, status: d.status, attemptCount: d.attempt_count,
    nextAttemptAt: d.status === 'pending' ? iso(d.next_attempt_at) : null, lastStatusCode: d.last_status_code,
    createdAt: iso(d.created_at), updatedAt: iso(d.updated_at),
    attempts: attempts.map((a) => ({
      attemptedAt: iso(a.attempted_at), statusCode: a.status_code, latencyMs: a.latency_ms, error: a.error, responseExcerpt: a.response_excerpt,
    })),
  };
}

async function deliveriesToWire(db: Db, rows: Array<Selectable<WebhookDeliveryTable>>) {
  const attempts = rows.length
    ? await db.selectFrom('webhook_attempts').selectAll().where('delivery_id', 'in', rows.map((r) => r.id)).orderBy('id', 'desc').execute()
    : [];
  return rows.map((row) => deliveryToWire(row, attempts.filter((a) => a.delivery_id === row.id)));
}

/**
 * Webhooks (docs/webhooks.md): a principal's subscriptions to the events it may see, delivered by
 * the worker (`shared/webhooks/delivery.ts`). A webhook is its owner's alone: anyone else gets
 * 404. The signing secret is returned by create and rotate only.
 */
export async function webhookRoutes(app: TypedApp, ctx: ServiceContext) {
  const allow = outboundAllowList(ctx.config);

  function checkUrl(url: string) {
    const refused = refusedOutboundUrl(url, allow);
    if (refused) throw unprocessable(`url: ${refused}`);
  }
  function checkEventTypes(eventTypes: string[]) {
    const unknown = eventTypes.filter((t) => !isSubscribable(t));
    if (unknown.length) throw unprocessable(`eventTypes: unknown event type ${unknown.map((t) => `"${t}"`).join(', ')}`);
  }
  async function ownWebhook(db: Db, ownerId: string, id: string, lock = false) {
    let query = db.selectFrom('webhooks').selectAll().where('id', '=', id).where('owner_id', '=', ownerId);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) throw notFound('Webhook');
    return row;
  }

  app.post('/webhooks', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'Subscribe a URL to events; the signing secret is shown once', body: CreateWebhookBody, response: { 201: Data(Type.Object({ webhook: WebhookSchema, secret: Type.String() })), ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    const body = request.body;
    checkUrl(body.url);
    checkEventTypes(body.eventTypes);
    const secret = newWebhookSecret();
    const now = new Date();
    const webhook = await ctx.db.transaction().execute(async (trx) => {
      const created = await trx.insertInto('webhooks').values({
        id: newId('wh'), workspace_id: me.workspace_id, owner_id: me.id, url: body.url, description: body.description ?? null,
        event_types: JSON.stringify(body.eventTypes), disabled_reason: null, disabled_at: null, failing_since: null, created_at: now, updated_at: now,
      }).returningAll().executeTakeFirstOrThrow();
      await trx.insertInto('webhook_secrets').values({ webhook_id: created.id, secret: sealWebhookSecret(ctx.config, created.id, secret), created_at: now, expires_at: null }).execute();
      await appendAudit(trx, { workspaceId: me.workspace_id, actorId: me.id, action: 'webhook.created', targetType: 'webhook', targetId: created.id, data: { eventTypes: body.eventTypes } });
      return created;
    });
    reply.status(201);
    return { data: { webhook: webhookToWire(webhook), secret } };
  });

  app.get('/webhooks', {
    config: { scope: 'read' },
    schema: { tags: ['webhooks'], summary: 'Your webhooks', querystring: ListWebhooksQuery, response: { 200: Page(WebhookSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { limit = 50, cursor } = request.query;
    let query = ctx.db.selectFrom('webhooks').selectAll().where('owner_id', '=', me.id).orderBy('id').limit(limit + 1);
    if (cursor) query = query.where('id', '>', decodeCursor<{ id: string }>(cursor, { id: 'string' }).id);
    const { page, pagination } = pageOf(await query.execute(), limit, (last) => encodeCursor({ id: last.id }));
    return { data: page.map(webhookToWire), pagination };
  });

  app.get('/webhooks/:id', {
    config: { scope: 'read' },
    schema: { tags: ['webhooks'], summary: 'One of your webhooks', params: IdParams, response: { 200: Data(WebhookSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    return { data: webhookToWire(await ownWebhook(ctx.db, me.id, request.params.id)) };
  });

  app.patch('/webhooks/:id', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'Change the URL, event types or description, or enable/disable', params: IdParams, body: UpdateWebhookBody, response: { 200: Data(WebhookSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const body = request.body;
    if (body.url !== undefined) checkUrl(body.url);
    if (body.eventTypes) checkEventTypes(body.eventTypes);
    const updated = await ctx.db.transaction().execute(async (trx) => {
      const row = await ownWebhook(trx, me.id, request.params.id, true);
      const now = new Date();
      const enabling = body.enabled === true && !row.enabled;
      const result = await trx.updateTable('webhooks').set({
        ...(body.url !== undefined ? { url: body.url } : {}),
        ...(body.eventTypes ? { event_types: JSON.stringify(body.eventTypes) } : {}),
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.enabled === false && row.enabled ? { enabled: false, disabled_at: now, disabled_reason: null } : {}),
        // Enabled again: a fresh start for the failure counters.
        ...(enabling ? { enabled: true, disabled_at: null, disabled_reason: null, failing_since: null, exhausted_count: 0 } : {}),
        updated_at: now,
      }).where('id', '=', row.id).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, {
        workspaceId: me.workspace_id, actorId: me.id, action: 'webhook.updated', targetType: 'webhook', targetId: row.id,
        data: { fields: Object.keys(body).sort() },
      });
      return result;
    });
    return { data: webhookToWire(updated) };
  });

  app.delete('/webhooks/:id', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'Delete a webhook and its delivery history', params: IdParams, response: { 204: NoContent, ...errorResponses } },
  }, async (request, reply) => {
    const me = caller(request).principal;
    await ctx.db.transaction().execute(async (trx) => {
      const row = await ownWebhook(trx, me.id, request.params.id, true);
      await trx.deleteFrom('webhooks').where('id', '=', row.id).execute();
      await appendAudit(trx, { workspaceId: me.workspace_id, actorId: me.id, action: 'webhook.deleted', targetType: 'webhook', targetId: row.id, data: {} });
    });
    reply.status(204);
    return null;
  });

  app.post('/webhooks/:id/rotate-secret', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'A new signing secret (shown once); the previous one keeps signing for the overlap', params: IdParams, body: RotateSecretBody, response: { 200: Data(Type.Object({ secret: Type.String() })), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const overlapSeconds = request.body.overlapSeconds ?? DEFAULT_SECRET_OVERLAP_SECONDS;
    const secret = newWebhookSecret();
    await ctx.db.transaction().execute(async (trx) => {
      const row = await ownWebhook(trx, me.id, request.params.id, true);
      const now = new Date();
      await trx.updateTable('webhook_secrets').set({ expires_at: new Date(now.getTime() + overlapSeconds * 1000) })
        .where('webhook_id', '=', row.id).where('expires_at', 'is', null).execute();
      await trx.deleteFrom('webhook_secrets').where('webhook_id', '=', row.id).where('expires_at', '<=', now).execute();
      await trx.insertInto('webhook_secrets').values({ webhook_id: row.id, secret: sealWebhookSecret(ctx.config, row.id, secret), created_at: now, expires_at: null }).execute();
      await appendAudit(trx, { workspaceId: me.workspace_id, actorId: me.id, action: 'webhook.secret_rotated', targetType: 'webhook', targetId: row.id, data: { overlapSeconds } });
    });
    return { data: { secret } };
  });

  app.get('/webhooks/:id/deliveries', {
    config: { scope: 'read' },
    schema: { tags: ['webhooks'], summary: 'Deliveries newest first, with their attempts', params: IdParams, querystring: ListDeliveriesQuery, response: { 200: Page(WebhookDeliverySchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const hook = await ownWebhook(ctx.db, me.id, request.params.id);
    const { limit = 50, cursor, status } = request.query;
    let query = ctx.db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', hook.id)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1);
    if (status) query = query.where('status', '=', status);
    if (cursor) {
      const after = decodeCursor<{ at: string; id: string }>(cursor, { at: 'string', id: 'string' });
      query = query.where(sql<boolean>`(created_at, id) < (${new Date(after.at)}, ${after.id})`);
    }
    const { page, pagination } = pageOf(await query.execute(), limit, (last) => encodeCursor({ at: new Date(last.created_at).toISOString(), id: last.id }));
    return { data: await deliveriesToWire(ctx.db, page), pagination };
  });

  app.post('/webhooks/:id/deliveries/:deliveryId/replay', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'Send a delivery again, with the same webhook-id', params: DeliveryParams, response: { 200: Data(WebhookDeliverySchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const hook = await ownWebhook(ctx.db, me.id, request.params.id);
    const now = new Date();
    const row = await ctx.db.updateTable('webhook_deliveries')
      .set(queuedAgain(now))
      .where('id', '=', request.params.deliveryId).where('webhook_id', '=', hook.id).returningAll().executeTakeFirst();
    if (!row) throw notFound('Delivery');
    const [delivery] = await deliveriesToWire(ctx.db, [row]);
    return { data: delivery };
  });

  app.post('/webhooks/:id/replay', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'Send again every delivery of events in a time window (or only the failed ones)', params: IdParams, body: ReplayEventsBody, response: { 200: Data(Type.Object({ replayed: Type.Integer() })), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const hook = await ownWebhook(ctx.db, me.id, request.params.id);
    const now = new Date();
    const since = new Date(request.body.since);
    const until = request.body.until ? new Date(request.body.until) : now;
    if (since > until) throw unprocessable('since: must not be after until');
    let query = ctx.db.updateTable('webhook_deliveries')
      .set(queuedAgain(now))
      .where('webhook_id', '=', hook.id).where('event_at', '>=', since).where('event_at', '<=', until);
    query = request.body.onlyFailed ? query.where('status', '=', 'failed') : query.where('status', '!=', 'pending');
    const rows = await query.returning('id').execute();
    return { data: { replayed: rows.length } };
  });

  app.post('/webhooks/:id/test', {
    config: { scope: 'write' },
    schema: { tags: ['webhooks'], summary: 'Queue a webhook.test event to the endpoint', params: IdParams, response: { 200: Data(WebhookDeliverySchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const hook = await ownWebhook(ctx.db, me.id, request.params.id);
    const now = new Date();
    const messageId = randomMessageId();
    const row = await ctx.db.insertInto('webhook_deliveries').values({
      id: newDeliveryId(), webhook_id: hook.id, workspace_id: hook.workspace_id, message_id: messageId, event_stream: null, event_seq: null,
      event_type: 'webhook.test', event_at: now, status: 'pending', next_attempt_at: now, lease_until: null, last_status_code: null, created_at: now, updated_at: now,
      body: payloadBody({ id: messageId, type: 'webhook.test', timestamp: now.toISOString(), data: { webhookId: hook.id, message: 'A test event from Sesame' } }),
    }).returningAll().executeTakeFirstOrThrow();
    const [delivery] = await deliveriesToWire(ctx.db, [row]);
    return { data: delivery };
  });
}
