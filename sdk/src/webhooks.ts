import { hmac } from '@noble/hashes/hmac';
import { sha256 } from '@noble/hashes/sha2';

/** Default tolerance between the signed timestamp and now, in seconds (±5 minutes). */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

export class WebhookVerificationError extends Error {
  constructor(message: string) { super(message); this.name = 'WebhookVerificationError'; }
}

/**
 * The key bytes of a signing secret: base64 after an optional `whsec_` prefix (Standard Webhooks
 * libraries take it either way). Base64 only: a secret that happened to look like hex stays base64.
 */
function secretBytes(secret: string): Uint8Array {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  let bytes: Uint8Array | undefined;
  try { bytes = Uint8Array.from(atob(encoded.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)); } catch { bytes = undefined; }
  if (!bytes?.length) throw new WebhookVerificationError('The signing secret must be the whsec_… value (base64 after the optional "whsec_" prefix) — copy it exactly as returned by createWebhook or rotateWebhookSecret');
  return bytes;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Compares in time independent of where the strings differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  // Stryker disable next-line EqualityOperator: at i === a.length both charCodeAt() are NaN and NaN ^ NaN is 0, so `<=` compares the same
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function sign(secret: string, content: string): string {
  return base64(hmac(sha256, secretBytes(secret), new TextEncoder().encode(content)));
}

// Stryker disable next-line Regex: the empty parts that splitting on single whitespace characters adds have no `v1` version and are dropped
const WHITESPACE = /\s+/;
// Stryker disable next-line StringLiteral: what a bare `v1` stands for; no HMAC matches it, nor any other non-base64 text
const NO_SIGNATURE = '';

/** `v1,<sig>` entries (space-separated; several during a secret rotation overlap). */
function signaturesFrom(header: string): string[] {
  return header.split(WHITESPACE).map((part) => part.split(',')).filter(([version]) => version === 'v1').map((parts) => parts.at(1) ?? NO_SIGNATURE);
}

function checkTimestamp(timestamp: string, toleranceSeconds: number, now: number) {
  const ts = Number(timestamp);
  if (!Number.isInteger(ts)) throw new WebhookVerificationError('The timestamp header is not a Unix time in seconds; pass X-Sesame-Timestamp (or webhook-timestamp) unchanged');
  if (Math.abs(now / 1000 - ts) > toleranceSeconds) {
    throw new WebhookVerificationError(`The timestamp is more than ${toleranceSeconds}s from now: a replayed or delayed delivery, or this machine's clock is off`);
  }
}

export interface VerifyOptions { toleranceSeconds?: number; now?: number }

/**
 * Throws `WebhookVerificationError` (saying how to fix it) unless `X-Sesame-Signature` signs
 * `{timestamp}.{rawBody}` with the secret and the timestamp is fresh. Pass the raw body string
 * exactly as received — not re-serialised JSON.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- public API (README): the caller names the event type it expects
export function constructWebhookEvent<T = unknown>(secret: string, signatureHeader: string, timestampHeader: string, rawBody: string, options: VerifyOptions = {}): T {
  if (!signatureHeader) throw new WebhookVerificationError('No signature: pass the X-Sesame-Signature header');
  checkTimestamp(timestampHeader, options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS, options.now ?? Date.now());
  const expected = sign(secret, `${timestampHeader}.${rawBody}`);
  if (!signaturesFrom(signatureHeader).some((sig) => constantTimeEqual(sig, expected))) {
    throw new WebhookVerificationError('No signature matches: check the secret (after a rotation both are valid for the overlap) and that the body is the raw request body');
  }
  try { return JSON.parse(rawBody) as T; } catch { return rawBody as T; }
}

/** The README's boolean form of `constructWebhookEvent`. */
export function verifyWebhookSignature(secret: string, signatureHeader: string, timestampHeader: string, rawBody: string, options: VerifyOptions = {}): boolean {
  try { constructWebhookEvent(secret, signatureHeader, timestampHeader, rawBody, options); return true; } catch { return false; }
}

/**
 * Standard Webhooks verification (`webhook-id`, `webhook-timestamp`, `webhook-signature`):
 * signed content `{id}.{timestamp}.{rawBody}`. Any Standard Webhooks library verifies the same.
 */
export function verifyStandardWebhook(secret: string, headers: Record<string, string | undefined>, rawBody: string, options: VerifyOptions = {}): boolean {
  const get = (name: string) => headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const id = get('webhook-id');
  const timestamp = get('webhook-timestamp');
  const signature = get('webhook-signature');
  if (!id || !timestamp || !signature) return false;
  try {
    checkTimestamp(timestamp, options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS, options.now ?? Date.now());
    const expected = sign(secret, `${id}.${timestamp}.${rawBody}`);
    return signaturesFrom(signature).some((sig) => constantTimeEqual(sig, expected));
  } catch {
    return false;
  }
}

/** Signs like the server does; for tests and for relaying. */
export function signWebhookPayload(secret: string, timestamp: number, rawBody: string, id?: string): string {
  return `v1,${sign(secret, id ? `${id}.${timestamp}.${rawBody}` : `${timestamp}.${rawBody}`)}`;
}
