import { generateMasterKey } from '@sesamespace/vault';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../src/shared/config.js';
import { outboundAllowList } from '../src/shared/outbound/index.js';
import { rotateMasterKey } from '../src/shared/vault/rotate.js';
import { WebhookDispatcher, dispatcherOptions } from '../src/shared/webhooks/delivery.js';
import { startTestApi, type TestApi } from './support/api.js';
import { targets } from './support/targets.js';
import { startUpstream } from './support/upstream.js';

/**
 * Webhook signing secrets are sealed at rest under the vault's master keys: the database alone
 * cannot forge a delivery. Deliveries still sign with the secret the owner was shown.
 */
describe.each(targets())('webhook signing secrets at rest on %s', (target) => {
  const k1 = generateMasterKey();
  const k2 = generateMasterKey();
  let api: TestApi;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let agent: { id: string; apiKey: string };
  let channelId: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    api = await startTestApi(target, { SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_VAULT_KEY: k1 });
    agent = await api.createAgent('sealer');
    channelId = (await api.call(agent.apiKey, 'POST', '/channels', { kind: 'channel', name: 'sealed-hooks', memberIds: [] })).json().data.id;
  });
  afterAll(async () => { await api?.close(); await upstream?.close(); });
  beforeEach(async () => {
    upstream.received.length = 0;
    await api.ctx.db.deleteFrom('webhooks').execute();
  });

  /** Delivers what is due with `config`'s master keys (as a worker holding them would). */
  async function deliver(config: Config = api.ctx.config) {
    const dispatcher = new WebhookDispatcher(api.ctx, dispatcherOptions({ ...api.ctx, config }, { allow: outboundAllowList({ SESAME_OUTBOUND_ALLOW: '127.0.0.1' }) }));
    await dispatcher.tick();
    await dispatcher.drain();
  }
  async function createWebhook() {
    const res = await api.call(agent.apiKey, 'POST', '/webhooks', { url: `${upstream.url}/hook`, eventTypes: ['message'] });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().data as { webhook: { id: string }; secret: string };
  }
  async function post(content: string) {
    expect((await api.call(agent.apiKey, 'POST', `/channels/${channelId}/messages`, { content })).statusCode).toBe(201);
  }
  const stored = async (webhookId: string) => (await api.ctx.db.selectFrom('webhook_secrets').select(['id', 'secret']).where('webhook_id', '=', webhookId).orderBy('id').execute());
  const verifies = (secret: string, index = 0) => {
    const got = upstream.received[index];
    const headers = Object.fromEntries(Object.entries(got.headers).map(([k, v]) => [k, String(v)]));
    return Boolean(new StandardWebhook(secret).verify(got.body, headers));
  };

  it('stores the secret sealed (not even its base64 body appears) and signs deliveries with the secret the owner was shown', async () => {
    const { webhook, secret } = await createWebhook();
    const [row] = await stored(webhook.id);
    expect(row.secret).toMatch(/^sealed:/);
    expect(row.secret).not.toContain(secret.slice('whsec_'.length));
    await post('sealed and signed');
    await deliver();
    expect(upstream.received).toHaveLength(1);
    expect(verifies(secret)).toBe(true);

    // A rotated secret is sealed too, and both sign during the overlap.
    const rotated = (await api.call(agent.apiKey, 'POST', `/webhooks/${webhook.id}/rotate-secret`, { overlapSeconds: 3600 })).json().data.secret as string;
    const rows = await stored(webhook.id);
    expect(rows.map((r) => r.secret.startsWith('sealed:'))).toEqual([true, true]);
    await post('during the overlap');
    await deliver();
    expect(verifies(secret, 1)).toBe(true);
    expect(verifies(rotated, 1)).toBe(true);
  });

  it('a sealed secret copied to another webhook does not open there: nothing is sent unsigned, the attempt says why', async () => {
    const first = await createWebhook();
    const second = await createWebhook();
    const [row] = await stored(first.webhook.id);
    await api.ctx.db.updateTable('webhook_secrets').set({ secret: row.secret }).where('webhook_id', '=', second.webhook.id).execute();
    await post('to both');
    await deliver();
    // Only the first webhook's delivery went out.
    expect(upstream.received).toHaveLength(1);
    expect(verifies(first.secret)).toBe(true);
    const attempts = (await api.call(agent.apiKey, 'GET', `/webhooks/${second.webhook.id}/deliveries`)).json().data[0].attempts as Array<{ error: string | null; statusCode: number | null }>;
    expect(attempts[0]).toMatchObject({ statusCode: null });
    expect(attempts[0].error).toContain('signing secret could not be opened');
  });

  it('seals a secret stored as it is (before the vault had a key) at the first tick, and keeps signing with it', async () => {
    const { webhook, secret } = await createWebhook();
    await api.ctx.db.updateTable('webhook_secrets').set({ secret }).where('webhook_id', '=', webhook.id).execute();
    await post('legacy');
    await deliver();
    expect(verifies(secret)).toBe(true);
    const [row] = await stored(webhook.id);
    expect(row.secret).toMatch(/^sealed:/);
    expect(row.secret).not.toContain(secret.slice('whsec_'.length));
  });

  it('a worker started with a new keyring (a rolling restart) leaves sealed secrets under the old key: workers still holding only it keep opening them', async () => {
    const { webhook, secret } = await createWebhook();
    await post('rolling restart');
    await deliver(loadConfig({ ...(api.ctx.config as Record<string, unknown>), SESAME_VAULT_KEY: `v1:${k1},v2:${k2}` }));
    const [row] = await stored(webhook.id);
    expect((JSON.parse(row.secret.slice('sealed:'.length)) as { dataKey: { keyVersion: number } }).dataKey.keyVersion).toBe(1);
    await post('old worker');
    await deliver();
    expect(upstream.received).toHaveLength(2);
    expect(verifies(secret, 1)).toBe(true);
  });

  it('a master key rotation rewraps webhook secrets: deliveries verify with the new key alone', async () => {
    const { webhook, secret } = await createWebhook();
    const both = loadConfig({ ...(api.ctx.config as Record<string, unknown>), SESAME_VAULT_KEY: `v1:${k1},v2:${k2}` });
    await rotateMasterKey(api.ctx.db, both, () => {});
    const [row] = await stored(webhook.id);
    expect((JSON.parse(row.secret.slice('sealed:'.length)) as { dataKey: { keyVersion: number } }).dataKey.keyVersion).toBe(2);
    await post('after rotation');
    await deliver(loadConfig({ ...(api.ctx.config as Record<string, unknown>), SESAME_VAULT_KEY: `v2:${k2}` }));
    expect(upstream.received).toHaveLength(1);
    expect(verifies(secret)).toBe(true);
  });
});
