import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SesameClient, UnprocessableEntityError, verifyWebhookSignature } from '@sesamespace/sdk';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { spawnServer, type ServerProcess } from './support/process.js';

interface Received { headers: Record<string, string>; body: string }

async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Issue 15's acceptance scenario, with only the SDK against `npm start`. */
describe('webhooks end to end against npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-webhooks-e2e-'));
  const bootstrapKey = randomKey();
  const received: Received[] = [];
  let failuresLeft = 2;
  let receiver: Server | undefined;
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers a message after two failed attempts with one webhook-id, signed for standardwebhooks and the SDK', async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
      req.on('end', () => {
        received.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body });
        res.writeHead(failuresLeft-- > 0 ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    server = spawnServer('start', {
      SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: bootstrapKey, PORT: '0', GATEWAY_PORT: '0',
      SESAME_OUTBOUND_ALLOW: '127.0.0.1', SESAME_WEBHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms',
    });
    const [, apiUrl] = await server.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    const [, wsUrl] = await server.waitForOutput(/Gateway:\s+(ws:\/\/\S+)\/v1\/connect/);
    const admin = new SesameClient({ apiUrl, wsUrl, apiKey: bootstrapKey });
    const { apiKey } = await admin.createAgent({ handle: 'hooked' });
    const client = new SesameClient({ apiUrl, wsUrl, apiKey });

    const { webhook, secret } = await client.createWebhook({ url: hookUrl, eventTypes: ['message'] });
    expect(secret).toMatch(/^whsec_/);
    const { channel } = await client.createChannel({ kind: 'channel', name: 'hooked', memberIds: [] });
    const message = await client.sendMessage(channel.id, { content: 'arrives on the third try', kind: 'text' });

    await eventually(() => (received.length >= 3 ? true : undefined), 'three attempts');
    expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const last = received[2];
    expect(new StandardWebhook(secret).verify(last.body, last.headers)).toMatchObject({ type: 'message', data: { id: message.id } });
    expect(verifyWebhookSignature(secret, last.headers['x-sesame-signature'], last.headers['x-sesame-timestamp'], last.body)).toBe(true);
    expect(verifyWebhookSignature(secret, last.headers['x-sesame-signature'], last.headers['x-sesame-timestamp'], last.body.replace('third', 'fourth'))).toBe(false);

    const { deliveries } = await eventually(async () => {
      const listed = await client.listWebhookDeliveries(webhook.id, { limit: 20 });
      return listed.deliveries[0]?.status === 'succeeded' ? listed : undefined;
    }, 'the delivery to be recorded as succeeded');
    expect(deliveries[0].attempts.map((a) => a.statusCode)).toEqual([204, 500, 500]);
    expect(deliveries[0].messageId).toBe(received[0].headers['webhook-id']);

    const rotated = await client.rotateWebhookSecret(webhook.id);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(secret);

    const refused = await client.createWebhook({ url: 'http://169.254.169.254/latest/meta-data', eventTypes: ['message'] }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(UnprocessableEntityError);
    expect((refused as UnprocessableEntityError).status).toBe(422);
  }, 120_000);
});
