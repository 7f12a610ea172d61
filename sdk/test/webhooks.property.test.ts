import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constructWebhookEvent, signWebhookPayload, verifyStandardWebhook, verifyWebhookSignature, WEBHOOK_TOLERANCE_SECONDS, WebhookVerificationError,
} from '../src/index.js';

const keyBytes = fc.uint8Array({ minLength: 16, maxLength: 64 });
const secretOf = (key: Uint8Array) => `whsec_${Buffer.from(key).toString('base64')}`;
const body = fc.string({ unit: 'grapheme', maxLength: 200 });
/** Unix seconds, and a `now` (ms) at most the tolerance away from them. */
const timestampAndNow = fc.tuple(fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }), fc.integer({ min: -WEBHOOK_TOLERANCE_SECONDS * 1000, max: WEBHOOK_TOLERANCE_SECONDS * 1000 }))
  .map(([ts, offset]) => ({ ts, now: ts * 1000 + offset }));
const msgId = fc.stringMatching(/^msg_[A-Za-z0-9]{1,24}$/);
/** An independent HMAC-SHA256 (node:crypto), as any Standard Webhooks library computes it. */
const reference = (key: Uint8Array, content: string) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
const base64Chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The signature with the character at `index` replaced by a different base64 character. */
function flip(signature: string, index: number, by: number): string {
  const [version, sig] = signature.split(',') as [string, string];
  const i = index % sig.length;
  const current = base64Chars.indexOf(sig[i]);
  const replacement = base64Chars[(Math.max(current, 0) + 1 + (by % 63)) % 64];
  return `${version},${sig.slice(0, i)}${replacement}${sig.slice(i + 1)}`;
}

function rejection(run: () => unknown): WebhookVerificationError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    expect((err as Error).name).toBe('WebhookVerificationError');
    return err as WebhookVerificationError;
  }
  throw new Error('expected a WebhookVerificationError');
}

describe('webhook signatures (properties)', () => {
  it('verify accepts what sign produces, for any payload, secret and timestamp within the tolerance', () => {
    fc.assert(fc.property(keyBytes, body, timestampAndNow, (key, raw, { ts, now }) => {
      const secret = secretOf(key);
      const signature = signWebhookPayload(secret, ts, raw);
      expect(signature).toBe(reference(key, `${ts}.${raw}`));
      expect(verifyWebhookSignature(secret, signature, String(ts), raw, { now })).toBe(true);
      const event: unknown = constructWebhookEvent(secret, signature, String(ts), raw, { now });
      let parsed: unknown = raw;
      try { parsed = JSON.parse(raw); } catch { /* not JSON: the raw body comes back */ }
      expect(event).toEqual(parsed);
    }));
  });

  it('Standard Webhooks: verify accepts sign(id) for any id, payload, secret and timestamp within the tolerance', () => {
    fc.assert(fc.property(keyBytes, body, timestampAndNow, msgId, (key, raw, { ts, now }, id) => {
      const secret = secretOf(key);
      const signature = signWebhookPayload(secret, ts, raw, id);
      expect(signature).toBe(reference(key, `${id}.${ts}.${raw}`));
      expect(verifyStandardWebhook(secret, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature }, raw, { now })).toBe(true);
      expect(verifyStandardWebhook(secret, { 'webhook-id': `${id}x`, 'webhook-timestamp': String(ts), 'webhook-signature': signature }, raw, { now })).toBe(false);
    }));
  });

  it('rejects any single-character change of the signature, any change of the body and any truncation', () => {
    fc.assert(fc.property(keyBytes, body, timestampAndNow, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 43 }), (key, raw, { ts, now }, index, by, keep) => {
      const secret = secretOf(key);
      const signature = signWebhookPayload(secret, ts, raw);
      const tampered = flip(signature, index, by);
      expect(tampered).not.toBe(signature);
      expect(verifyWebhookSignature(secret, tampered, String(ts), raw, { now })).toBe(false);
      expect(verifyWebhookSignature(secret, signature, String(ts), `${raw} `, { now })).toBe(false);
      expect(verifyWebhookSignature(secret, signature.slice(0, 3 + keep), String(ts), raw, { now })).toBe(false);
      expect(verifyWebhookSignature(secret, signature, String(ts + 1), raw, { now })).toBe(false);
      const err = rejection(() => constructWebhookEvent(secret, tampered, String(ts), raw, { now }));
      expect(err.message).toMatch(/^No signature matches/);
    }));
  });

  it('rejects a signature made with any other secret', () => {
    fc.assert(fc.property(keyBytes, keyBytes, body, timestampAndNow, (key, other, raw, { ts, now }) => {
      fc.pre(!Buffer.from(key).equals(Buffer.from(other)));
      const signature = signWebhookPayload(secretOf(other), ts, raw);
      expect(verifyWebhookSignature(secretOf(key), signature, String(ts), raw, { now })).toBe(false);
    }));
  });

  it('rejects timestamps outside ±tolerance (custom or default), even when correctly signed, and accepts the boundary', () => {
    fc.assert(fc.property(keyBytes, body, fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }), fc.integer({ min: 1, max: 3_600 }), fc.integer({ min: 1, max: 10_000_000 }), fc.boolean(), (key, raw, ts, tolerance, beyondMs, future) => {
      const secret = secretOf(key);
      const signature = signWebhookPayload(secret, ts, raw);
      const sign = future ? -1 : 1; // a timestamp in the future of `now`, or in its past
      const boundary = ts * 1000 + sign * tolerance * 1000;
      expect(verifyWebhookSignature(secret, signature, String(ts), raw, { now: boundary, toleranceSeconds: tolerance })).toBe(true);
      expect(verifyWebhookSignature(secret, signature, String(ts), raw, { now: boundary + sign * beyondMs, toleranceSeconds: tolerance })).toBe(false);
      const err = rejection(() => constructWebhookEvent(secret, signature, String(ts), raw, { now: boundary + sign * beyondMs, toleranceSeconds: tolerance }));
      expect(err.message).toBe(`The timestamp is more than ${tolerance}s from now: a replayed or delayed delivery, or this machine's clock is off`);
      const defaultBoundary = ts * 1000 + sign * WEBHOOK_TOLERANCE_SECONDS * 1000;
      expect(verifyWebhookSignature(secret, signature, String(ts), raw, { now: defaultBoundary })).toBe(true);
      expect(verifyWebhookSignature(secret, signature, String(ts), raw, { now: defaultBoundary + sign * beyondMs })).toBe(false);
      const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signWebhookPayload(secret, ts, raw, 'msg_1') };
      expect(verifyStandardWebhook(secret, headers, raw, { now: boundary, toleranceSeconds: tolerance })).toBe(true);
      expect(verifyStandardWebhook(secret, headers, raw, { now: boundary + sign * beyondMs, toleranceSeconds: tolerance })).toBe(false);
      expect(verifyStandardWebhook(secret, headers, raw, { now: defaultBoundary + sign * beyondMs })).toBe(false);
    }));
  });

  it('accepts a header of several space-separated v1 signatures when any one matches, in any position', () => {
    const otherSignature = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `v1,${Buffer.from(b).toString('base64')}`);
    const separator = fc.constantFrom(' ', '  ', '\t', ' \n ');
    fc.assert(fc.property(keyBytes, body, timestampAndNow, msgId, fc.array(otherSignature, { maxLength: 4 }), fc.nat(), separator, (key, raw, { ts, now }, id, others, at, sep) => {
      const secret = secretOf(key);
      const signatures = [...others];
      signatures.splice(at % (others.length + 1), 0, signWebhookPayload(secret, ts, raw, id));
      const header = ` ${signatures.join(sep)} `;
      expect(verifyStandardWebhook(secret, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': header }, raw, { now })).toBe(true);
      const withoutMatch = others.length ? others.join(sep) : 'v1,';
      expect(verifyStandardWebhook(secret, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': withoutMatch }, raw, { now })).toBe(false);
      const plain = signatures.map((s, i) => (i === at % (others.length + 1) ? signWebhookPayload(secret, ts, raw) : s)).join(sep);
      expect(verifyWebhookSignature(secret, plain, String(ts), raw, { now })).toBe(true);
    }));
  });

  it('ignores a matching signature under any version other than v1', () => {
    fc.assert(fc.property(keyBytes, body, timestampAndNow, fc.constantFrom('v2', 'v1a', 'V1', 'v0', 'v1 '), (key, raw, { ts, now }, version) => {
      const secret = secretOf(key);
      const sig = signWebhookPayload(secret, ts, raw).slice('v1,'.length);
      expect(verifyWebhookSignature(secret, `${version},${sig}`, String(ts), raw, { now })).toBe(false);
      expect(verifyWebhookSignature(secret, `v1,${sig},extra`, String(ts), raw, { now })).toBe(true);
    }));
  });
});

describe('webhook verification errors', () => {
  const key = Buffer.from('a 32 byte secret for webhook tests!!');
  const secret = secretOf(key);
  const now = 1_800_000_000_000;
  const ts = now / 1000;
  const raw = '{"type":"message"}';

  it('says which header or value is wrong', () => {
    expect(rejection(() => constructWebhookEvent(secret, '', String(ts), raw, { now })).message).toBe('No signature: pass the X-Sesame-Signature header');
    // The whsec_ prefix is optional (issue 15), as in Standard Webhooks libraries; what follows must be base64.
    expect(constructWebhookEvent(secret.slice('whsec_'.length), signWebhookPayload(secret, ts, raw), String(ts), raw, { now })).toEqual(JSON.parse(raw));
    expect(rejection(() => constructWebhookEvent('whsec_%%%', signWebhookPayload(secret, ts, raw), String(ts), raw, { now })).message)
      .toMatch(/^The signing secret must be the whsec_… value/);
    expect(rejection(() => constructWebhookEvent('whsec_', signWebhookPayload(secret, ts, raw), String(ts), raw, { now })).message)
      .toMatch(/^The signing secret must be the whsec_… value/);
    expect(rejection(() => constructWebhookEvent(secret, signWebhookPayload(secret, ts, raw), 'soon', raw, { now })).message)
      .toMatch(/^The timestamp header is not a Unix time in seconds/);
    expect(rejection(() => constructWebhookEvent(secret, 'v1', String(ts), raw, { now })).message).toMatch(/^No signature matches/);
    expect(rejection(() => constructWebhookEvent(secret, 'v1,', String(ts), raw, { now })).message).toMatch(/^No signature matches/);
  });

  it('rejects a non-integer timestamp even when the signature covers it', () => {
    // `1800000000.5` signs fine, and is within the tolerance, but is not Unix seconds.
    const signature = reference(key, `${ts + 0.5}.${raw}`);
    expect(verifyWebhookSignature(secret, signature, String(ts + 0.5), raw, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, reference(key, `NaN.${raw}`), 'NaN', raw, { now })).toBe(false);
    expect(verifyStandardWebhook(secret, { 'webhook-id': 'msg_1', 'webhook-timestamp': 'NaN', 'webhook-signature': reference(key, `msg_1.NaN.${raw}`) }, raw, { now })).toBe(false);
  });

  it('checks against the clock when no `now` is given', () => {
    const current = Math.floor(Date.now() / 1000);
    expect(verifyWebhookSignature(secret, signWebhookPayload(secret, current, raw), String(current), raw)).toBe(true);
    expect(verifyWebhookSignature(secret, signWebhookPayload(secret, ts - 86_400 * 365 * 10, raw), String(ts - 86_400 * 365 * 10), raw)).toBe(false);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(current), 'webhook-signature': signWebhookPayload(secret, current, raw, 'msg_1') };
    expect(verifyStandardWebhook(secret, headers, raw)).toBe(true);
  });

  it('returns a body that is not JSON as the raw string', () => {
    expect(constructWebhookEvent(secret, signWebhookPayload(secret, ts, 'not json'), String(ts), 'not json', { now })).toBe('not json');
  });

  it('reads the Standard Webhooks headers in any letter case and requires all three', () => {
    const id = 'msg_2';
    const signature = signWebhookPayload(secret, ts, raw, id);
    const exact = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature };
    expect(verifyStandardWebhook(secret, { 'Webhook-Id': id, 'WEBHOOK-TIMESTAMP': String(ts), 'Webhook-Signature': signature }, raw, { now })).toBe(true);
    expect(verifyStandardWebhook(secret, { 'content-type': 'application/json', 'Webhook-Id': id, 'x-other': 'v1,abc', 'webhook-timestamp': String(ts), 'Webhook-Signature': signature }, raw, { now })).toBe(true);
    for (const name of Object.keys(exact)) {
      expect(verifyStandardWebhook(secret, { ...exact, [name]: undefined }, raw, { now })).toBe(false);
      expect(verifyStandardWebhook(secret, { ...exact, [name]: '' }, raw, { now })).toBe(false);
    }
    expect(verifyStandardWebhook('no-prefix', exact, raw, { now })).toBe(false);
  });
});

describe('verifyStandardWebhook: each header is required', () => {
  const key = Buffer.from('a 32 byte secret for webhook tests!!');
  const secret = secretOf(key);
  const raw = '{"type":"message"}';

  it('rejects a missing or empty webhook-id even when the signature covers what would be signed without it', () => {
    const now = 1_800_000_000_000;
    const ts = String(now / 1000);
    for (const id of [undefined, '']) {
      const signature = reference(key, `${String(id)}.${ts}.${raw}`);
      const emptySignature = reference(key, `.${ts}.${raw}`);
      expect(verifyStandardWebhook(secret, { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `${signature} ${emptySignature}` }, raw, { now })).toBe(false);
    }
  });

  it('rejects an empty webhook-timestamp even when "" would pass as Unix time 0', () => {
    const signature = reference(key, `msg_1..${raw}`);
    expect(verifyStandardWebhook(secret, { 'webhook-id': 'msg_1', 'webhook-timestamp': '', 'webhook-signature': signature }, raw, { now: 0 })).toBe(false);
    expect(verifyStandardWebhook(secret, { 'webhook-id': 'msg_1', 'webhook-timestamp': '0', 'webhook-signature': reference(key, `msg_1.0.${raw}`) }, raw, { now: 0 })).toBe(true);
  });

  it('prefers the exactly named header over a differently cased duplicate', () => {
    const now = 1_800_000_000_000;
    const ts = String(now / 1000);
    const headers = { 'Webhook-Id': 'msg_wrong', 'webhook-id': 'msg_1', 'webhook-timestamp': ts, 'webhook-signature': reference(key, `msg_1.${ts}.${raw}`) };
    expect(verifyStandardWebhook(secret, headers, raw, { now })).toBe(true);
  });
});
