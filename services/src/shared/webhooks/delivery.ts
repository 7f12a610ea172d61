import { createHash, randomBytes } from 'node:crypto';
import { EventType, INBOX_PREFIX, inboxStream, isInboxStream, type WebhookPayload } from '@sesamespace/sdk/protocol';
import { sql } from 'kysely';
import type { ServiceContext } from '../context.js';
import { withEvents, type Trx } from '../events.js';
import { OutboundFailedError, OutboundRefusedError, outboundAllowList, sendOutbound, type OutboundAllowList, type OutboundResponse } from '../outbound/index.js';
import { subscribesTo } from './event-types.js';
import { jittered, parseRetrySchedule, retryAfterMs } from './retry.js';
import { metrics } from '../metrics.js';
import { openWebhookSecret, sealStoredWebhookSecrets } from './secret-sealing.js';
import { signatureHeaders } from './signing.js';

/** A receiver's answer that asks us to slow down: retried on the schedule, or after its `Retry-After` when that is later. */
const THROTTLING = new Set([429, 502, 503, 504]);
/** An endpoint failing this long without one success is disabled. */
const DISABLE_AFTER_FAILING_MS = 5 * 86_400_000;
/** …or once this many deliveries in a row ran out of retries. */
const DISABLE_AFTER_EXHAUSTED = 5;
/** A claim outlives the 10 s request timeout by far; a worker that died holding it is retried after. */
const DEFAULT_LEASE_MS = 60_000;
const RESPONSE_EXCERPT_BYTES = 1024;
const FAN_OUT_STREAMS_PER_TICK = 100;
const FAN_OUT_EVENTS_PER_STREAM = 500;

/** The `webhook-id` of an event: derived from (stream, seq), so every retry and replay carries the same one. */
function messageIdFor(stream: string, seq: number): string {
  return `msg_${createHash('sha256').update(`${stream}\n${seq}`).digest('base64url').slice(0, 27)}`;
}

export function newDeliveryId(): string {
  return `whd_${randomBytes(12).toString('base64url')}`;
}

export function randomMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

export function payloadBody(payload: WebhookPayload): string {
  return JSON.stringify(payload);
}

export interface WebhookDispatcherOptions {
  /** The current time; tests move it instead of sleeping. */
  clock: () => Date;
  /** In [0, 1): jitter of the retry delays. */
  random: () => number;
  retryScheduleMs: number[];
  perEndpointConcurrency: number;
  /** Deliveries this dispatcher sends at once, over all endpoints. */
  maxInFlight: number;
  leaseMs: number;
  allow: OutboundAllowList;
  send: typeof sendOutbound;
  /** The signing secret a stored value holds (sealed under the vault's master keys, see `secret-sealing.ts`). */
  openSecret: (webhookId: string, stored: string) => string;
  /** Seals secrets still stored as they are (never rewraps: that is `vault rotate-key`'s); run by the first tick. */
  sealStored: () => Promise<number>;
}

export type DispatcherContext = Pick<ServiceContext, 'db' | 'publish' | 'logger'>;

export function dispatcherOptions(ctx: Pick<ServiceContext, 'config' | 'db'>, overrides: Partial<WebhookDispatcherOptions> = {}): WebhookDispatcherOptions {
  return {
    clock: () => new Date(), random: Math.random,
    retryScheduleMs: parseRetrySchedule(ctx.config.SESAME_WEBHOOK_RETRY_SCHEDULE),
    perEndpointConcurrency: ctx.config.SESAME_WEBHOOK_CONCURRENCY_PER_ENDPOINT,
    maxInFlight: 256, leaseMs: DEFAULT_LEASE_MS, allow: outboundAllowList(ctx.config), send: sendOutbound,
    openSecret: (webhookId, stored) => openWebhookSecret(ctx.config, webhookId, stored),
    sealStored: () => sealStoredWebhookSecrets(ctx.db, ctx.config, { rewrap: false }),
    ...overrides,
  };
}

interface ClaimedDelivery {
  id: string; webhook_id: string; workspace_id: string; message_id: string; event_stream: string | null; event_type: string;
  body: string; retry_step: number; owner_id: string; url: string;
  /** The live signing secrets, newest first (two during a rotation overlap). */
  secrets: string[];
  /** Whether the owner may see the event now: a member of its channel (inbox and test events: true). */
  visible: boolean;
}

/** What one attempt came to. */
type Outcome =
  | { kind: 'success'; status: number }
  | { kind: 'gone'; status: number }
  | { kind: 'retry'; status: number | null; retryAfterMs?: number; error: string | null };

/**
 * Webhook delivery, driven by the `events` table: `fanOut` turns new events into deliveries
 * (a per-stream cursor, advanced in the transaction that inserts them), `claim` takes due
 * deliveries with `FOR UPDATE SKIP LOCKED` under a lease, and `attempt` sends one and records
 * the result. Any number of workers may run it; each delivery is sent by one at a time, and a
 * worker that dies mid-send leaves a lease that runs out, after which another sends it again
 * with the same `webhook-id`.
 */
export class WebhookDispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  /** The claim running now, if any (one at a time per dispatcher). */
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private stopped = false;
  private storedSecretsSealed = false;

  constructor(private readonly ctx: DispatcherContext, readonly options: WebhookDispatcherOptions) {}

  /** One worker tick: fan out, then start the due deliveries (not awaited: see `idle`). */
  async tick(): Promise<void> {
    if (!this.storedSecretsSealed) {
      // Once per process: secrets stored before the vault had a key are sealed now (rewrapping is `vault rotate-key`'s).
      this.storedSecretsSealed = true;
      try {
        const changed = await this.options.sealStored();
        if (changed > 0) this.ctx.logger.info({ changed }, 'webhook signing secrets sealed under the vault master key');
      } catch (err) {
        this.ctx.logger.warn({ err }, 'webhook signing secrets could not be sealed; they stay as stored');
      }
    }
    await this.fanOut();
    await this.pump();
  }

  /**
   * Claims as many due deliveries as there is room for and starts them. A finished attempt
   * pumps again, so a backlog drains at the endpoints' pace rather than one claim per tick.
   */
  private pump(): Promise<void> {
    if (this.pumping) { this.pumpAgain = true; return this.pumping; }
    this.pumpAgain = false;
    this.pumping = this.claimAndStart().finally(() => { this.pumping = undefined; });
    return this.pumping;
  }

  private async claimAndStart(): Promise<void> {
    do {
      const room = this.options.maxInFlight - this.inFlight.size;
      if (room <= 0) return;
      for (const delivery of await this.claim(room)) {
        const run = this.attempt(delivery)
          .catch((err: unknown) => { this.ctx.logger.error({ err, deliveryId: delivery.id }, 'webhook delivery failed to record'); })
          .finally(() => {
            this.inFlight.delete(run);
            if (!this.stopped) void this.pump().catch((err: unknown) => { this.ctx.logger.error({ err }, 'webhook claim failed'); });
          });
        this.inFlight.add(run);
      }
    } while (this.repumpRequested());
  }

  /** Whether `pump` was called while this claim ran (then claim again), clearing the request. */
  private repumpRequested(): boolean {
    const again = this.pumpAgain;
    this.pumpAgain = false;
    return again;
  }

  /** Starts no more attempts; resolves when those in flight are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** Resolves when every attempt started so far has been recorded. */
  async idle(): Promise<void> {
    while (this.inFlight.size || this.pumping) await Promise.all([...this.inFlight, this.pumping]);
  }

  /** Ticks until nothing is due now (tests and the bench): every started attempt recorded. */
  async drain(maxTicks = 10_000): Promise<void> {
    for (let i = 0; i < maxTicks; i++) {
      await this.tick();
      if (!this.inFlight.size && !(await this.hasWork())) return;
      await this.idle();
    }
  }

  private async hasWork(): Promise<boolean> {
    const now = this.options.clock();
    const due = await this.ctx.db.selectFrom('webhook_deliveries').innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
      .select('webhook_deliveries.id').where('webhook_deliveries.status', '=', 'pending').where('webhooks.enabled', '=', true)
      .where('webhook_deliveries.next_attempt_at', '<=', now).limit(1).executeTakeFirst();
    return due !== undefined || (await this.streamsBehind(1)).length > 0;
  }

  /** Streams of workspaces with an enabled webhook whose head is past the fan-out cursor. */
  private async streamsBehind(limit: number) {
    return this.ctx.db.selectFrom('streams as s')
      .leftJoin('webhook_stream_cursors as c', 'c.stream', 's.id')
      .select(['s.id as stream', 's.workspace_id'])
      .where('s.workspace_id', 'in', (eb) => eb.selectFrom('webhooks').select('workspace_id').where('enabled', '=', true))
      .where((eb) => eb('s.head_seq', '>', eb.fn.coalesce('c.last_seq', sql<number>`0`)))
      .limit(limit)
      .execute();
  }

  /** Turns events past each stream's cursor into deliveries for the webhooks that subscribe to them. Returns how many. */
  async fanOut(): Promise<number> {
    let created = 0;
    for (const { stream, workspace_id: workspaceId } of await this.streamsBehind(FAN_OUT_STREAMS_PER_TICK)) {
      created += await this.ctx.db.transaction().execute(async (trx) => {
        const hooks = await trx.selectFrom('webhooks').select(['id', 'owner_id', 'event_types', 'created_at'])
          .where('workspace_id', '=', workspaceId).where('enabled', '=', true).execute();
        if (!hooks.length) return 0;
        // A stream seen for the first time starts after its events older than every webhook.
        const oldest = new Date(Math.min(...hooks.map((h) => new Date(h.created_at).getTime())));
        await sql`INSERT INTO webhook_stream_cursors (stream, workspace_id, last_seq)
          SELECT ${stream}, ${workspaceId}, COALESCE(MAX(seq), 0) FROM events WHERE stream = ${stream} AND at < ${oldest}
          ON CONFLICT (stream) DO NOTHING`.execute(trx);
        // Another worker holding this stream is fanning it out now.
        const cursor = await trx.selectFrom('webhook_stream_cursors').select('last_seq').where('stream', '=', stream)
          .forUpdate().skipLocked().executeTakeFirst();
        if (!cursor) return 0;
        const events = await trx.selectFrom('events').select(['seq', 'type', 'data', 'at']).where('stream', '=', stream)
          .where('seq', '>', cursor.last_seq).orderBy('seq').limit(FAN_OUT_EVENTS_PER_STREAM).execute();
        const last = events.at(-1);
        if (!last) return 0;
        const now = this.options.clock();
        const rows = [];
        for (const event of events) {
          const at = new Date(event.at);
          const seq = event.seq;
          const messageId = messageIdFor(stream, seq);
          for (const hook of hooks) {
            if (at < new Date(hook.created_at) || !subscribesTo(hook.event_types, event.type)) continue;
            // An inbox is its owner's alone; channel membership is checked at delivery time.
            if (isInboxStream(stream) && stream !== inboxStream(hook.owner_id)) continue;
            rows.push({
              id: newDeliveryId(), webhook_id: hook.id, workspace_id: workspaceId, message_id: messageId, event_stream: stream, event_seq: seq,
              event_type: event.type, event_at: at, status: 'pending' as const, next_attempt_at: now, created_at: now, updated_at: now,
              body: payloadBody({ id: messageId, type: event.type, timestamp: at.toISOString(), data: event.data }),
            });
          }
        }
        if (rows.length) {
          await trx.insertInto('webhook_deliveries').values(rows)
            .onConflict((oc) => oc.columns(['webhook_id', 'event_stream', 'event_seq']).doNothing()).execute();
        }
        await trx.updateTable('webhook_stream_cursors').set({ last_seq: last.seq }).where('stream', '=', stream).execute();
        return rows.length;
      });
    }
    return created;
  }

  /**
   * Takes up to `max` due deliveries under a lease, in one statement. Each endpoint's row is
   * locked (SKIP LOCKED: another worker claiming for it now is left alone) while its in-flight
   * deliveries are counted and its due ones taken, so the per-endpoint limit holds whatever the
   * number of workers.
   */
  async claim(max: number): Promise<ClaimedDelivery[]> {
    const now = this.options.clock();
    const leaseUntil = new Date(now.getTime() + this.options.leaseMs);
    const limit = this.options.perEndpointConcurrency;
    const result = await sql<ClaimedDelivery>`
      WITH hooks AS (
        SELECT w.id, w.owner_id, w.url,
          ${limit} - (SELECT count(*) FROM webhook_deliveries f WHERE f.webhook_id = w.id AND f.status = 'pending' AND f.lease_until > ${now})::int AS room
        FROM webhooks w
        WHERE w.enabled AND EXISTS (
          SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = w.id AND e.status = 'pending' AND e.next_attempt_at <= ${now})
        ORDER BY w.updated_at
        LIMIT 50
        FOR UPDATE SKIP LOCKED
      ), due AS (
        SELECT d.id, h.owner_id, h.url FROM hooks h CROSS JOIN LATERAL (
          SELECT id FROM webhook_deliveries d
          WHERE d.webhook_id = h.id AND d.status = 'pending' AND d.next_attempt_at <= ${now}
          ORDER BY d.next_attempt_at
          LIMIT GREATEST(h.room, 0)
          FOR UPDATE SKIP LOCKED
        ) d
        LIMIT ${max}
      )
      UPDATE webhook_deliveries AS t
      SET lease_until = ${leaseUntil}, next_attempt_at = ${leaseUntil}, attempt_count = t.attempt_count + 1, updated_at = ${now}
      FROM due
      WHERE t.id = due.id
      RETURNING t.id, t.webhook_id, t.workspace_id, t.message_id, t.event_stream, t.event_type, t.body, t.retry_step, due.owner_id, due.url,
        ARRAY(SELECT s.secret FROM webhook_secrets s WHERE s.webhook_id = t.webhook_id AND (s.expires_at IS NULL OR s.expires_at > ${now}) ORDER BY s.id DESC) AS secrets,
        (t.event_stream IS NULL OR t.event_stream LIKE ${`${INBOX_PREFIX}%`}
          OR EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = t.event_stream AND m.principal_id = due.owner_id)) AS visible`
      .execute(this.ctx.db);
    return result.rows;
  }

  /** Sends one claimed delivery (unless its owner may no longer see the event) and records the outcome. */
  async attempt(delivery: ClaimedDelivery): Promise<void> {
    const db = this.ctx.db;
    const started = this.options.clock();
    // Visibility and secrets were read by the claim, at delivery time.
    if (!delivery.visible) {
      await db.updateTable('webhook_deliveries').set({ status: 'skipped', lease_until: null, updated_at: started }).where('id', '=', delivery.id).execute();
      metrics.webhookAttempts.inc({ outcome: 'skipped' });
      return;
    }
    const timestamp = Math.floor(started.getTime() / 1000);
    let response: OutboundResponse | undefined;
    let error: string | null = null;
    let secrets: string[] | undefined;
    try {
      secrets = delivery.secrets.map((stored) => this.options.openSecret(delivery.webhook_id, stored));
    } catch {
      // Not sent unsigned: retried on the schedule, in case the key comes back (a process missing SESAME_VAULT_KEY).
      error = 'the signing secret could not be opened: check that this worker holds the vault master key';
    }
    if (secrets) {
      const headers = {
        'content-type': 'application/json', 'user-agent': 'Sesame-Webhooks/1', 'x-sesame-event': delivery.event_type,
        ...signatureHeaders(secrets, delivery.message_id, timestamp, delivery.body),
      };
      try {
        response = await this.options.send({ method: 'POST', url: delivery.url, headers, body: delivery.body, maxResponseBytes: RESPONSE_EXCERPT_BYTES }, this.options.allow);
      } catch (err) {
        error = err instanceof OutboundRefusedError ? `refused: ${err.reason}`
          : err instanceof OutboundFailedError ? `${err.reason}: ${err.message}` : 'request failed';
      }
    }
    const finished = this.options.clock();
    const outcome: Outcome = !response ? { kind: 'retry', status: null, error }
      : response.status >= 200 && response.status < 300 ? { kind: 'success', status: response.status }
        : response.status === 410 ? { kind: 'gone', status: 410 }
          : { kind: 'retry', status: response.status, error: null, retryAfterMs: THROTTLING.has(response.status) ? retryAfterMs(response.headers['retry-after'], finished) : undefined };
    metrics.webhookAttempts.inc({ outcome: outcome.kind === 'success' ? 'succeeded' : outcome.kind === 'gone' ? 'gone' : 'failed' });
    metrics.webhookAttemptDuration.observe(Math.max(0, finished.getTime() - started.getTime()) / 1000);
    await this.record(delivery, outcome, {
      attemptedAt: started, latencyMs: response ? Math.round(response.elapsedMs) : Math.max(0, finished.getTime() - started.getTime()),
      error: outcome.kind === 'retry' ? outcome.error : null, excerpt: response ? response.body.toString('utf8') : null,
    });
  }

  private async record(delivery: ClaimedDelivery, outcome: Outcome, attempt: { attemptedAt: Date; latencyMs: number; error: string | null; excerpt: string | null }): Promise<void> {
    const now = this.options.clock();
    if (outcome.kind === 'success') {
      // The common case in one statement: the attempt, the delivery, and the endpoint's failure
      // counts reset — touching (locking) the endpoint's row only when it was failing, so
      // successes to one endpoint neither queue behind each other nor make claims skip it.
      await sql`
        WITH attempt AS (
          INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error, response_excerpt)
          VALUES (${delivery.id}, ${attempt.attemptedAt}, ${outcome.status}, ${attempt.latencyMs}, NULL, ${attempt.excerpt})
        ), delivered AS (
          UPDATE webhook_deliveries SET status = 'succeeded', lease_until = NULL, last_status_code = ${outcome.status}, updated_at = ${now}
          WHERE id = ${delivery.id}
        )
        UPDATE webhooks SET failing_since = NULL, exhausted_count = 0
        WHERE id = ${delivery.webhook_id} AND (failing_since IS NOT NULL OR exhausted_count > 0)`.execute(this.ctx.db);
      return;
    }
    const disabled = await withEvents(this.ctx.db, delivery.workspace_id, this.ctx.publish, async (trx, events) => {
      await trx.insertInto('webhook_attempts').values({
        delivery_id: delivery.id, attempted_at: attempt.attemptedAt, status_code: outcome.status, latency_ms: attempt.latencyMs,
        error: attempt.error, response_excerpt: attempt.excerpt,
      }).execute();
      const base = { lease_until: null, last_status_code: outcome.status, updated_at: now };
      const hook = await trx.selectFrom('webhooks').select(['enabled', 'failing_since', 'exhausted_count']).where('id', '=', delivery.webhook_id).forUpdate().executeTakeFirst();
      if (!hook) return undefined;
      let reason: string | undefined;
      if (outcome.kind === 'gone') {
        await trx.updateTable('webhook_deliveries').set({ ...base, status: 'failed' }).where('id', '=', delivery.id).execute();
        reason = 'The endpoint answered 410 Gone';
        metrics.webhookDeliveriesFailed.inc();
      } else {
        const schedule = this.options.retryScheduleMs;
        const step = delivery.retry_step;
        const exhausted = step >= schedule.length;
        if (exhausted) {
          metrics.webhookDeliveriesFailed.inc();
          await trx.updateTable('webhook_deliveries').set({ ...base, status: 'failed' }).where('id', '=', delivery.id).execute();
        } else {
          const delay = Math.max(jittered(schedule[step] ?? 0, this.options.random), outcome.retryAfterMs ?? 0);
          await trx.updateTable('webhook_deliveries').set({ ...base, status: 'pending', retry_step: step + 1, next_attempt_at: new Date(now.getTime() + delay) })
            .where('id', '=', delivery.id).execute();
        }
        const failingSince = hook.failing_since ? new Date(hook.failing_since) : now;
        const exhaustedCount = hook.exhausted_count + (exhausted ? 1 : 0);
        await trx.updateTable('webhooks').set({ failing_since: failingSince, exhausted_count: exhaustedCount }).where('id', '=', delivery.webhook_id).execute();
        if (now.getTime() - failingSince.getTime() >= DISABLE_AFTER_FAILING_MS) reason = 'The endpoint has failed every delivery for 5 days';
        else if (exhaustedCount >= DISABLE_AFTER_EXHAUSTED) reason = `${exhaustedCount} deliveries in a row failed after every retry`;
      }
      if (!reason || !hook.enabled) return undefined;
      await disableWebhook(trx, events, delivery, reason, now);
      return reason;
    });
    if (disabled) metrics.webhooksDisabled.inc();
    if (disabled) this.ctx.logger.warn({ webhookId: delivery.webhook_id, reason: disabled }, 'webhook disabled');
  }
}

async function disableWebhook(trx: Trx, events: { append: (stream: string, type: string, data: unknown) => Promise<unknown> }, delivery: ClaimedDelivery, reason: string, now: Date) {
  await trx.updateTable('webhooks').set({ enabled: false, disabled_reason: reason, disabled_at: now, updated_at: now }).where('id', '=', delivery.webhook_id).execute();
  await events.append(inboxStream(delivery.owner_id), EventType.WebhookDisabled, { webhookId: delivery.webhook_id, reason, disabledAt: now.toISOString() });
}

/** The worker job: one dispatcher per process, ticking on SESAME_WEBHOOK_POLL_INTERVAL_MS. */
const dispatchers = new WeakMap<ServiceContext, WebhookDispatcher>();
export async function runWebhookDeliveries(ctx: ServiceContext): Promise<void> {
  let dispatcher = dispatchers.get(ctx);
  if (!dispatcher) {
    dispatcher = new WebhookDispatcher(ctx, dispatcherOptions(ctx));
    dispatchers.set(ctx, dispatcher);
  }
  await dispatcher.tick();
}

/** Worker shutdown: no new attempts, and those in flight recorded before the database closes. */
export async function stopWebhookDeliveries(ctx: ServiceContext): Promise<void> {
  await dispatchers.get(ctx)?.stop();
}
