import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { constructWebhookEvent, signWebhookPayload, verifyStandardWebhook, verifyWebhookSignature, WebhookVerificationError } from '../src/index.js';

const key = Buffer.from('a 32 byte secret for webhook tests!!');
const secret = `whsec_${key.toString('base64')}`;
const body = JSON.stringify({ type: 'message', data: { content: 'hé' } });
const now = 1_800_000_000_000;
const ts = String(now / 1000);
const reference = (content: string, k = key) => `v1,${createHmac('sha256', k).update(content).digest('base64')}`;

describe('verifyWebhookSignature', () => {
  it('accepts the X-Sesame-Signature of {timestamp}.{rawBody}, computed independently', () => {
    expect(verifyWebhookSignature(secret, reference(`${ts}.${body}`), ts, body, { now })).toBe(true);
    expect(signWebhookPayload(secret, Number(ts), body)).toBe(reference(`${ts}.${body}`));
  });

  it('rejects a tampered body, a wrong secret and a stale or future timestamp', () => {
    const sig = reference(`${ts}.${body}`);
    expect(verifyWebhookSignature(secret, sig, ts, body.replace('hé', 'he'), { now })).toBe(false);
    expect(verifyWebhookSignature(`whsec_${Buffer.from('another secret entirely, 32 bytes').toString('base64')}`, sig, ts, body, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, sig, ts, body, { now: now + 301_000 })).toBe(false);
    expect(verifyWebhookSignature(secret, sig, ts, body, { now: now - 301_000 })).toBe(false);
    expect(verifyWebhookSignature(secret, sig, ts, body, { now: now + 299_000 })).toBe(true);
    expect(verifyWebhookSignature(secret, '', ts, body, { now })).toBe(false);
  });

  it('accepts any of several signatures during a rotation overlap', () => {
    const oldKey = Buffer.from('the previous secret, also 32 byte');
    const header = `${reference(`${ts}.${body}`, oldKey)} ${reference(`${ts}.${body}`)}`;
    expect(verifyWebhookSignature(secret, header, ts, body, { now })).toBe(true);
    expect(verifyWebhookSignature(`whsec_${oldKey.toString('base64')}`, header, ts, body, { now })).toBe(true);
  });

  it('explains failures when asked to construct the event', () => {
    expect(() => constructWebhookEvent('not a secret!', 'v1,x', ts, body, { now })).toThrow(/whsec_/);
    expect(() => constructWebhookEvent(secret, 'v1,x', 'yesterday', body, { now })).toThrow(WebhookVerificationError);
    expect(constructWebhookEvent(secret, reference(`${ts}.${body}`), ts, body, { now })).toEqual(JSON.parse(body));
  });
});

describe('verifyStandardWebhook', () => {
  it('verifies {id}.{timestamp}.{rawBody} with webhook-* headers', () => {
    const id = 'evt_123';
    const headers = { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': reference(`${id}.${ts}.${body}`) };
    expect(verifyStandardWebhook(secret, headers, body, { now })).toBe(true);
    expect(verifyStandardWebhook(secret, { ...headers, 'webhook-id': 'evt_other' }, body, { now })).toBe(false);
    expect(verifyStandardWebhook(secret, { 'webhook-id': id, 'webhook-timestamp': ts }, body, { now })).toBe(false);
  });
});
