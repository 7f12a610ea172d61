import { afterEach, describe, expect, it } from 'vitest';
import { SesameClient } from '../src/index.js';
import { fakeServer, json, type Recorded } from './fake-server.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => { await close?.(); close = undefined; });

const webhook = { id: 'wh_1', url: 'https://example.com/hook', description: null, eventTypes: ['message'], enabled: true, disabledReason: null, disabledAt: null, ownerId: 'pr_1', createdAt: 't', updatedAt: 't' };
const delivery = { id: 'whd_1', webhookId: 'wh_1', messageId: 'msg_1', eventType: 'message', stream: 'ch_1', seq: 3, status: 'succeeded', attemptCount: 1, nextAttemptAt: null, lastStatusCode: 200, createdAt: 't', updatedAt: 't', attempts: [] };

/** A client against a fake api that records each request and answers by route. */
async function client() {
  const requests: Recorded[] = [];
  const server = await fakeServer((req, res) => {
    requests.push(req);
    const path = new URL(req.url, 'http://x').pathname.replace('/api/v1', '');
    if (req.method === 'POST' && path === '/webhooks') json(res, 201, { data: { webhook, secret: 'whsec_abc' } });
    else if (req.method === 'GET' && path === '/webhooks') json(res, 200, { data: [webhook], pagination: { nextCursor: 'next', hasMore: true } });
    else if (path === '/webhooks/wh_1' && req.method === 'DELETE') { res.writeHead(204).end(); }
    else if (path === '/webhooks/wh_1') json(res, 200, { data: webhook });
    else if (path === '/webhooks/wh_1/rotate-secret') json(res, 200, { data: { secret: 'whsec_new' } });
    else if (path === '/webhooks/wh_1/deliveries') json(res, 200, { data: [delivery], pagination: { nextCursor: null, hasMore: false } });
    else if (path === '/webhooks/wh_1/replay') json(res, 200, { data: { replayed: 4 } });
    else json(res, 200, { data: delivery });
  });
  close = server.close;
  return { sdk: new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 0 }), requests };
}

describe('webhook calls', () => {
  it('use the routes and shapes the README names', async () => {
    const { sdk, requests } = await client();
    expect(await sdk.createWebhook({ url: webhook.url, eventTypes: ['message', 'vault.lease_request'] })).toEqual({ webhook, secret: 'whsec_abc' });
    expect(await sdk.listWebhooks({ limit: 5 })).toEqual({ webhooks: [webhook], nextCursor: 'next' });
    expect(await sdk.getWebhook('wh_1')).toEqual({ webhook });
    expect(await sdk.updateWebhook('wh_1', { eventTypes: ['message'] })).toEqual({ webhook });
    expect(await sdk.rotateWebhookSecret('wh_1')).toEqual({ secret: 'whsec_new' });
    expect(await sdk.listWebhookDeliveries('wh_1', { limit: 20, status: 'failed' })).toEqual({ deliveries: [delivery], nextCursor: null });
    expect(await sdk.replayWebhookDelivery('wh_1', 'whd_1')).toEqual({ delivery });
    expect(await sdk.replayWebhookEvents('wh_1', { since: new Date('2026-01-01T00:00:00Z'), onlyFailed: true })).toEqual({ replayed: 4 });
    expect(await sdk.testWebhook('wh_1')).toEqual({ delivery });
    await sdk.deleteWebhook('wh_1');
    expect(requests.map((r) => `${r.method} ${r.url.replace('/api/v1', '')}`)).toEqual([
      'POST /webhooks', 'GET /webhooks?limit=5', 'GET /webhooks/wh_1', 'PATCH /webhooks/wh_1', 'POST /webhooks/wh_1/rotate-secret',
      'GET /webhooks/wh_1/deliveries?limit=20&status=failed', 'POST /webhooks/wh_1/deliveries/whd_1/replay', 'POST /webhooks/wh_1/replay',
      'POST /webhooks/wh_1/test', 'DELETE /webhooks/wh_1',
    ]);
    expect(requests[0].body).toEqual({ url: webhook.url, eventTypes: ['message', 'vault.lease_request'] });
    expect(requests[3].body).toEqual({ eventTypes: ['message'] });
    expect(requests[4].body).toEqual({});
    expect(requests[7].body).toEqual({ since: '2026-01-01T00:00:00.000Z', onlyFailed: true });
  });
});
