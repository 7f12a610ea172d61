/**
 * Webhook REST bodies (`/api/v1/webhooks`, docs/webhooks.md). A signing secret (`whsec_…`) is
 * returned only by create and rotate; no other body carries it.
 */

/** A webhook endpoint: where events of the subscribed types are POSTed. */
export interface Webhook {
  id: string;
  url: string;
  description: string | null;
  /** `message`, `message.edited`, `message.deleted`, `task.*`, `schedule.*`, `vault.lease_request`, `vault.lease_updated`, `membership.*`, `*`, or an event type name. */
  eventTypes: string[];
  enabled: boolean;
  /** Why the platform disabled it (`410 Gone`, failing for days…); null when enabled or disabled by a person. */
  disabledReason: string | null;
  disabledAt: string | null;
  /** The principal whose visibility it has: it receives only events its owner may see. */
  ownerId: string;
  createdAt: string;
  updatedAt: string;
}

/** One HTTP attempt of a delivery. */
export interface WebhookAttempt {
  attemptedAt: string;
  /** The receiver's status code; null when no response came (timeout, refused, network). */
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** The start of the response body (at most 1 KiB). */
  responseExcerpt: string | null;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'skipped';

/** One event for one endpoint, with its attempts (newest first). */
export interface WebhookDelivery {
  id: string;
  webhookId: string;
  /** The `webhook-id` header: the same on every retry and replay, so receivers dedupe on it. */
  messageId: string;
  eventType: string;
  /** The event's stream and seq (null for `testWebhook`). */
  stream: string | null;
  seq: number | null;
  status: WebhookDeliveryStatus;
  attemptCount: number;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  createdAt: string;
  updatedAt: string;
  attempts: WebhookAttempt[];
}

/** The body POSTed to an endpoint (signed as Standard Webhooks). */
export interface WebhookPayload<T = unknown> {
  /** Equal to the `webhook-id` header. */
  id: string;
  type: string;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: T;
}
