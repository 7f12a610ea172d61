import { createHmac, randomBytes } from 'node:crypto';

/** A new signing secret: `whsec_` + base64 of 32 random bytes (Standard Webhooks' form). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function hmac(secret: string, content: string): string {
  return createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(content).digest('base64');
}

/**
 * The signature headers of one attempt, one `v1,` signature per live secret (two during a
 * rotation overlap): Standard Webhooks' `webhook-*` headers over `{id}.{timestamp}.{body}`, and
 * `X-Sesame-Signature` over `{timestamp}.{body}` for the SDK's `verifyWebhookSignature`.
 */
export function signatureHeaders(secrets: readonly string[], messageId: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => `v1,${hmac(s, `${messageId}.${timestamp}.${body}`)}`).join(' '),
    'x-sesame-timestamp': String(timestamp),
    'x-sesame-signature': secrets.map((s) => `v1,${hmac(s, `${timestamp}.${body}`)}`).join(' '),
  };
}
