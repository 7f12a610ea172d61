import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyStandardWebhook, verifyWebhookSignature } from '@sesamespace/sdk';
import { inboxStream } from '@sesamespace/sdk/protocol';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { outboundAllowList } from '../src/shared/outbound/index.js';
import { runHousekeeping } from '../src/worker/housekeeping.js';
import { WebhookDispatcher, dispatcherOptions, newDeliveryId, payloadBody, randomMessageId, type WebhookDispatcherOptions } from '../src/shared/webhooks/delivery.js';
import { signatureHeaders } from '../src/shared/webhooks/signing.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';

interface Received { headers: Record<string, string>; body: string }

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]));
}

/** A local receiver: answers each request with the next planned reply (then 200). */
class Receiver {
  readonly received: Received[] = [];
  plan: Array<{ status: number; headers?: Record<string, string> }> = [];
  /** Holds every answer until released (a slow endpoint). */
  hold?: Promise<void>;
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.received.push({ headers: flatHeaders(req.headers), body: Buffer.concat(chunks).toString('utf8') });
        const reply = this.plan.shift() ?? { status: 200 };
        void (this.hold ?? Promise.resolve()).then(() => { res.writeHead(reply.status, reply.headers).end('ok from receiver'); });
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  reset() { this.received.length = 0; this.plan = []; this.hold = undefined; }
  close() { return new Promise<void>((resolve) => this.server.close(() => { resolve(); })); }
}

const ALLOW = { SESAME_OUTBOUND_ALLOW: '127.0.0.1' };

describe.each(targets())('webhooks on %s', (target) => {
  let api: TestApi;
  let alice: { id: string; apiKey: string };
  let bob: { id: string; apiKey: string };
  let channelId: string;
  const receiver = new Receiver();
  let now: Date;
  const clock = () => now;
  const advance = (ms: number) => { now = new Date(now.getTime() + ms); };

  function dispatcher(overrides: Partial<WebhookDispatcherOptions> = {}) {
    return new WebhookDispatcher(api.ctx, dispatcherOptions(api.ctx, { clock, random: () => 0.5, allow: outboundAllowList(ALLOW), retryScheduleMs: [1_000, 2_000, 3_000], ...overrides }));
  }
  async function createWebhook(key: string, eventTypes: string[], url = receiver.url) {
    const res = await api.call(key, 'POST', '/webhooks', { url, eventTypes });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { webhook: { id: string }; secret: string };
  }
  async function post(content: string) {
    const res = await api.call(alice.apiKey, 'POST', `/channels/${channelId}/messages`, { content });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { id: string };
  }
  async function deliveries(key: string, id: string, query = '') {
    const res = await api.call(key, 'GET', `/webhooks/${id}/deliveries${query}`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data as Array<{ id: string; messageId: string; status: string; attemptCount: number; attempts: Array<{ statusCode: number | null; error: string | null; responseExcerpt: string | null }> }>;
  }
  /** Runs a dispatcher until nothing is due, moving the clock past each retry. */
  async function deliverAll(d: WebhookDispatcher, rounds = 6) {
    for (let i = 0; i < rounds; i++) { await d.drain(); advance(10 * 3_600_000); }
  }

  beforeAll(async () => {
    api = await startTestApi(target, ALLOW);
    alice = await api.createAgent('alice');
    bob = await api.createAgent('bob');
    channelId = (await api.call(alice.apiKey, 'POST', '/channels', { kind: 'channel', name: 'hooks', memberIds: [] })).json().data.id;
    await receiver.start();
  });
  afterAll(async () => { await receiver.close(); await api?.close(); });
  beforeEach(async () => {
    receiver.reset();
    now = new Date();
    // Each test starts with no webhooks.
    await api.ctx.db.deleteFrom('webhooks').execute();
  });

  it('creates a webhook whose whsec_ secret is shown at creation only, and refuses bad URLs and event types with 422', async () => {
    const { webhook, secret } = await createWebhook(alice.apiKey, ['message', 'vault.lease_request', 'task.*', 'membership.*', 'message.edited']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);
    const got = await api.call(alice.apiKey, 'GET', `/webhooks/${webhook.id}`);
    const listed = await api.call(alice.apiKey, 'GET', '/webhooks');
    expect(got.body).not.toContain(secret.slice(6));
    expect(listed.body).not.toContain(secret.slice(6));
    expect(listed.json().data.map((w: { id: string }) => w.id)).toEqual([webhook.id]);
    // Someone else's webhook does not exist for them.
    expect((await api.call(bob.apiKey, 'GET', `/webhooks/${webhook.id}`)).statusCode).toBe(404);
    expect((await api.call(bob.apiKey, 'PATCH', `/webhooks/${webhook.id}`, { enabled: false })).statusCode).toBe(404);
    expect((await api.call(bob.apiKey, 'GET', '/webhooks')).json().data).toEqual([]);

    const metadata = await api.call(alice.apiKey, 'POST', '/webhooks', { url: 'http://169.254.169.254/latest/meta-data', eventTypes: ['message'] });
    expect(metadata.statusCode).toBe(422);
    expect((await api.call(alice.apiKey, 'POST', '/webhooks', { url: 'ftp://example.com/x', eventTypes: ['message'] })).statusCode).toBe(422);
    expect((await api.call(alice.apiKey, 'PATCH', `/webhooks/${webhook.id}`, { url: 'http://169.254.169.254/' })).statusCode).toBe(422);
    const typo = await api.call(alice.apiKey, 'POST', '/webhooks', { url: receiver.url, eventTypes: ['mesage'] });
    expect(typo.statusCode).toBe(422);
    expect(typo.json().detail).toContain('mesage');
  });

  it.each([
    'http://169.254.169.254/latest/meta-data', 'http://10.0.0.1/hook', 'http://192.168.1.10/hook', 'http://100.64.0.1/hook', 'http://[::1]/hook',
    'http://[::ffff:169.254.169.254]/hook', 'http://[fd00:ec2::254]/hook', 'http://0.0.0.0/hook', 'file:///etc/passwd', 'gopher://example.com/',
  ])('refuses a webhook to %s with 422', async (url) => {
    const res = await api.call(alice.apiKey, 'POST', '/webhooks', { url, eventTypes: ['message'] });
    expect(res.statusCode, res.body).toBe(422);
  });

  it('checks host names at each delivery: one resolving to a blocked address is refused, recorded and retried', async () => {
    const port = new URL(receiver.url).port;
    const { webhook } = await createWebhook(alice.apiKey, ['message'], `http://localhost:${port}/hook`);
    await post('to localhost');
    await dispatcher({ allow: outboundAllowList({ SESAME_OUTBOUND_ALLOW: '' }) }).drain();
    expect(receiver.received).toEqual([]);
    const [delivery] = await deliveries(alice.apiKey, webhook.id);
    expect(delivery).toMatchObject({ status: 'pending', attemptCount: 1 });
    expect(delivery.attempts[0]).toMatchObject({ statusCode: null });
    expect((delivery.attempts[0] as { error: string }).error).toMatch(/^refused: /);
  });

  it('delivers a message signed the Standard Webhooks way and for the SDK, with {id, type, timestamp, data}', async () => {
    const { secret } = await createWebhook(alice.apiKey, ['message']);
    const message = await post('hello hooks');
    const d = dispatcher({ clock: () => new Date() });
    await d.drain();
    expect(receiver.received).toHaveLength(1);
    const [{ headers, body }] = receiver.received as [Received];
    const payload = JSON.parse(body);
    expect(payload).toMatchObject({ id: headers['webhook-id'], type: 'message', data: { id: message.id, content: 'hello hooks' } });
    expect(Object.keys(payload).sort()).toEqual(['data', 'id', 'timestamp', 'type']);
    const standard = new StandardWebhook(secret);
    expect(standard.verify(body, headers)).toEqual(payload);
    expect(() => standard.verify(body.replace('hello', 'jello'), headers)).toThrow();
    expect(verifyStandardWebhook(secret, headers, body)).toBe(true);
    const signature = headers['x-sesame-signature'];
    const timestamp = headers['x-sesame-timestamp'];
    expect(verifyWebhookSignature(secret, signature, timestamp, body)).toBe(true);
    expect(verifyWebhookSignature(secret, signature, timestamp, body.replace('hello', 'jello'))).toBe(false);
    // The SDK takes the secret with or without its whsec_ prefix.
    expect(verifyWebhookSignature(secret.slice('whsec_'.length), signature, timestamp, body)).toBe(true);
  });

  it('signs like the Standard Webhooks reference vector', () => {
    // From the Standard Webhooks specification's test vectors.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    const headers = signatureHeaders([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body);
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('rejects an old timestamp in the SDK and in standardwebhooks', async () => {
    const { secret } = await createWebhook(alice.apiKey, ['message']);
    await post('stale');
    await dispatcher({ clock: () => new Date() }).drain();
    const [{ headers, body }] = receiver.received as [Received];
    const later = Date.now() + 10 * 60_000;
    expect(verifyWebhookSignature(secret, headers['x-sesame-signature'], headers['x-sesame-timestamp'], body, { now: later })).toBe(false);
    expect(verifyStandardWebhook(secret, headers, body, { now: later })).toBe(false);
    const old = { ...headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 600) };
    expect(() => new StandardWebhook(secret).verify(body, old)).toThrow();
  });

  it('retries a failing receiver on the schedule with the same webhook-id, and lists the attempts', async () => {
    const { webhook, secret } = await createWebhook(alice.apiKey, ['message']);
    receiver.plan = [{ status: 500 }, { status: 503 }];
    await post('third time lucky');
    const d = dispatcher();
    await d.drain();
    expect(receiver.received).toHaveLength(1);
    advance(500); // before the first retry (1 s ± 20 %) is due
    await d.drain();
    expect(receiver.received).toHaveLength(1);
    advance(1_500);
    await d.drain();
    advance(3_000);
    await d.drain();
    expect(receiver.received).toHaveLength(3);
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    for (const r of receiver.received) expect(new StandardWebhook(secret).verify(r.body, r.headers)).toBeTruthy();
    const [delivery] = await deliveries(alice.apiKey, webhook.id);
    expect(delivery).toMatchObject({ status: 'succeeded', attemptCount: 3, messageId: [...ids][0] });
    expect(delivery.attempts.map((a) => a.statusCode)).toEqual([200, 503, 500]);
    expect(delivery.attempts[0].responseExcerpt).toBe('ok from receiver');
    expect((await deliveries(alice.apiKey, webhook.id, '?status=failed'))).toEqual([]);
  });

  it('fails a delivery after the last retry', async () => {
    const { webhook } = await createWebhook(alice.apiKey, ['message']);
    receiver.plan = Array.from({ length: 10 }, () => ({ status: 500 }));
    await post('never');
    await deliverAll(dispatcher());
    expect(receiver.received).toHaveLength(4); // the first attempt and three retries
    const [delivery] = await deliveries(alice.apiKey, webhook.id);
    expect(delivery).toMatchObject({ status: 'failed', attemptCount: 4 });
  });

  it('honours Retry-After on 429', async () => {
    await createWebhook(alice.apiKey, ['message']);
    receiver.plan = [{ status: 429, headers: { 'retry-after': '120' } }];
    await post('slow down');
    const d = dispatcher();
    await d.drain();
    advance(60_000); // past the 1 s schedule step, before Retry-After
    await d.drain();
    expect(receiver.received).toHaveLength(1);
    advance(61_000);
    await d.drain();
    expect(receiver.received).toHaveLength(2);
  });

  it('disables the endpoint at once on 410, with a reason and a webhook.disabled event to its owner', async () => {
    const { webhook } = await createWebhook(alice.apiKey, ['message']);
    receiver.plan = [{ status: 410 }];
    await post('gone');
    await post('not sent');
    await deliverAll(dispatcher({ perEndpointConcurrency: 1 }));
    expect(receiver.received).toHaveLength(1);
    const got = (await api.call(alice.apiKey, 'GET', `/webhooks/${webhook.id}`)).json().data;
    expect(got).toMatchObject({ enabled: false, disabledReason: 'The endpoint answered 410 Gone' });
    const inbox = await api.call(alice.apiKey, 'GET', `/streams/${encodeURIComponent(inboxStream(alice.id))}/events`);
    expect(inbox.json().data.filter((e: { type: string }) => e.type === 'webhook.disabled').at(-1)).toMatchObject({ data: { webhookId: webhook.id, reason: 'The endpoint answered 410 Gone' } });
    // Enabling it again sends what was waiting.
    expect((await api.call(alice.apiKey, 'PATCH', `/webhooks/${webhook.id}`, { enabled: true })).json().data).toMatchObject({ enabled: true, disabledReason: null });
    await deliverAll(dispatcher());
    expect(receiver.received).toHaveLength(2);
  });

  it('disables an endpoint whose deliveries keep running out of retries', async () => {
    const { webhook } = await createWebhook(alice.apiKey, ['message']);
    receiver.plan = Array.from({ length: 100 }, () => ({ status: 500 }));
    for (let i = 0; i < 6; i++) await post(`fail ${i}`);
    await deliverAll(dispatcher({ retryScheduleMs: [1_000] }));
    const got = (await api.call(alice.apiKey, 'GET', `/webhooks/${webhook.id}`)).json().data;
    expect(got.enabled).toBe(false);
    expect(got.disabledReason).toMatch(/failed after every retry/);
  });

  it('signs with both secrets during a rotation overlap, and only the new one after it', async () => {
    const { webhook, secret: old } = await createWebhook(alice.apiKey, ['message']);
    const rotated = await api.call(alice.apiKey, 'POST', `/webhooks/${webhook.id}/rotate-secret`, { overlapSeconds: 3600 });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const fresh = rotated.json().data.secret as string;
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(old);
    await post('during overlap');
    await dispatcher({ clock: () => new Date() }).drain();
    const during = receiver.received[0];
    expect((during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(new StandardWebhook(old).verify(during.body, during.headers)).toBeTruthy();
    expect(new StandardWebhook(fresh).verify(during.body, during.headers)).toBeTruthy();
    expect(verifyWebhookSignature(old, during.headers['x-sesame-signature'], during.headers['x-sesame-timestamp'], during.body)).toBe(true);

    await post('after overlap');
    const after = new Date(Date.now() + 2 * 3_600_000);
    await dispatcher({ clock: () => after }).drain();
    const last = receiver.received[1];
    expect((last.headers['webhook-signature']).split(' ')).toHaveLength(1);
    const nowMs = after.getTime();
    expect(verifyStandardWebhook(fresh, last.headers, last.body, { now: nowMs })).toBe(true);
    expect(verifyStandardWebhook(old, last.headers, last.body, { now: nowMs })).toBe(false);
    // An empty body rotates too, with the default overlap (24 h).
    const bare = await api.call(alice.apiKey, 'POST', `/webhooks/${webhook.id}/rotate-secret`, {});
    expect(bare.statusCode, bare.body).toBe(200);
  });

  it('sends only what the owner may see: channel membership is checked at delivery time', async () => {
    const { webhook } = await createWebhook(bob.apiKey, ['*']);
    await post('bob is not in this channel');
    await dispatcher({ clock: () => new Date() }).drain();
    expect(receiver.received.filter((r) => r.body.includes('bob is not in this channel'))).toEqual([]);
    expect((await deliveries(bob.apiKey, webhook.id)).every((d) => d.status === 'skipped')).toBe(true);
  });

  it('replays one delivery, and a window of events, with the same webhook-id', async () => {
    const { webhook } = await createWebhook(alice.apiKey, ['message']);
    const since = new Date(Date.now() - 1000).toISOString();
    await post('replay me');
    const d = dispatcher({ clock: () => new Date() });
    await d.drain();
    const [delivery] = await deliveries(alice.apiKey, webhook.id);
    const replayed = await api.call(alice.apiKey, 'POST', `/webhooks/${webhook.id}/deliveries/${delivery.id}/replay`);
    expect(replayed.statusCode, replayed.body).toBe(200);
    await d.drain();
    const window = await api.call(alice.apiKey, 'POST', `/webhooks/${webhook.id}/replay`, { since });
    expect(window.json().data).toEqual({ replayed: 1 });
    expect((await api.call(alice.apiKey, 'POST', `/webhooks/${webhook.id}/replay`, { since, onlyFailed: true })).json().data).toEqual({ replayed: 0 });
    await d.drain();
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect((await api.call(bob.apiKey, 'POST', `/webhooks/${webhook.id}/deliveries/${delivery.id}/replay`)).statusCode).toBe(404);
  });

  it('sends a webhook.test event', async () => {
    const { webhook, secret } = await createWebhook(alice.apiKey, ['message']);
    const res = await api.call(alice.apiKey, 'POST', `/webhooks/${webhook.id}/test`);
    expect(res.statusCode, res.body).toBe(200);
    await dispatcher({ clock: () => new Date() }).drain();
    const [{ headers, body }] = receiver.received as [Received];
    expect(new StandardWebhook(secret).verify(body, headers)).toMatchObject({ type: 'webhook.test', data: { webhookId: webhook.id } });
  });

  it('prunes settled deliveries past event retention, never pending ones', async () => {
    const { webhook } = await createWebhook(alice.apiKey, ['message']);
    await post('old news');
    receiver.plan = [{ status: 500 }];
    await post('still trying');
    await dispatcher({ clock: () => new Date(), perEndpointConcurrency: 1 }).drain();
    const old = new Date(Date.now() - (api.ctx.config.SESAME_EVENT_RETENTION_DAYS + 1) * 86_400_000);
    await api.ctx.db.updateTable('webhook_deliveries').set({ updated_at: old }).where('webhook_id', '=', webhook.id).execute();
    await runHousekeeping(api.ctx);
    expect((await deliveries(alice.apiKey, webhook.id)).map((d) => d.status)).toEqual(['pending']);
  });

  it('retries a delivery whose worker died mid-send, with the same webhook-id', async () => {
    await createWebhook(alice.apiKey, ['message']);
    await post('crash');
    const dead = dispatcher();
    await dead.fanOut();
    const claimed = await dead.claim(10);
    expect(claimed).toHaveLength(1);
    // The worker dies here, holding the claim: nobody sends until its lease runs out.
    const survivor = dispatcher();
    await survivor.drain();
    expect(receiver.received).toHaveLength(0);
    advance(61_000);
    await survivor.drain();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0].headers['webhook-id']).toBe(claimed[0].message_id);
  });

  it('keeps at most the per-endpoint limit in flight, so a slow endpoint does not hold up the others', async () => {
    await createWebhook(alice.apiKey, ['message']);
    const other = new Receiver();
    await other.start();
    try {
      await createWebhook(alice.apiKey, ['message'], other.url);
      let release!: () => void;
      receiver.hold = new Promise((resolve) => { release = resolve; });
      for (let i = 0; i < 5; i++) await post(`burst ${i}`);
      const d = dispatcher({ perEndpointConcurrency: 2 });
      await d.tick();
      // The fast endpoint gets all five while the slow one holds its two.
      for (let i = 0; i < 200 && other.received.length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 25));
      await d.tick();
      expect(other.received).toHaveLength(5);
      expect(receiver.received).toHaveLength(2);
      release();
      await d.idle();
      await d.drain();
      expect(receiver.received).toHaveLength(5);
      expect(other.received).toHaveLength(5);
    } finally { await other.close(); }
  });
});

describe.each(targets().filter((t) => t === 'postgres'))('webhook workers racing on %s', (target) => {
  let api: TestApi;
  const receiver = new Receiver();
  beforeAll(async () => { api = await startTestApi(target, ALLOW); await receiver.start(); });
  afterAll(async () => { await receiver.close(); await api?.close(); });

  it('two workers deliver each of 1,000 deliveries once', async () => {
    const agent = await api.createAgent('racer');
    const { workspace_id: workspaceId } = await api.ctx.db.selectFrom('principals').select('workspace_id').where('id', '=', agent.id).executeTakeFirstOrThrow();
    const owner = { ...agent, workspaceId };
    const res = await api.call(owner.apiKey, 'POST', '/webhooks', { url: receiver.url, eventTypes: ['*'] });
    const id = res.json().data.webhook.id as string;
    const now = new Date();
    const rows = Array.from({ length: 1000 }, () => {
      const messageId = randomMessageId();
      return {
        id: newDeliveryId(), webhook_id: id, workspace_id: owner.workspaceId, message_id: messageId, event_stream: null, event_seq: null,
        event_type: 'webhook.test', event_at: now, status: 'pending' as const, next_attempt_at: now, lease_until: null, last_status_code: null, created_at: now, updated_at: now,
        body: payloadBody({ id: messageId, type: 'webhook.test', timestamp: now.toISOString(), data: {} }),
      };
    });
    await api.ctx.db.insertInto('webhook_deliveries').values(rows).execute();
    const options = dispatcherOptions(api.ctx, { allow: outboundAllowList(ALLOW), perEndpointConcurrency: 50 });
    const a = new WebhookDispatcher(api.ctx, options);
    const b = new WebhookDispatcher(api.ctx, options);
    await Promise.all([a.drain(), b.drain()]);
    const ids = receiver.received.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
  }, 120_000);
});
