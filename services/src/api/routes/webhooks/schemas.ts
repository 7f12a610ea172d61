import { Type } from '@sinclair/typebox';
import { Id, Nullable, PageQuery, SafeInteger, Text } from '../../../shared/http/schemas.js';

export const DEFAULT_SECRET_OVERLAP_SECONDS = 24 * 3600;
const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600;

const Url = Text({ minLength: 1, maxLength: 2048, description: 'http(s) URL the events are POSTed to' });
const EventTypes = Type.Array(Text({ minLength: 1, maxLength: 100 }), {
  minItems: 1, maxItems: 50, uniqueItems: true,
  description: '`message`, `message.edited`, `message.deleted`, `task.*`, `schedule.*`, `vault.lease_request`, `vault.lease_updated`, `membership.*`, `*`, or any event type name',
});

export const WebhookSchema = Type.Object({
  id: Type.String(), url: Type.String(), description: Nullable(Type.String()), eventTypes: Type.Array(Type.String()), enabled: Type.Boolean(),
  disabledReason: Nullable(Type.String()), disabledAt: Nullable(Type.String()), ownerId: Type.String(), createdAt: Type.String(), updatedAt: Type.String(),
}, { $id: 'Webhook' });

const WebhookAttemptSchema = Type.Object({
  attemptedAt: Type.String(), statusCode: Nullable(Type.Integer()), latencyMs: Type.Integer(), error: Nullable(Type.String()), responseExcerpt: Nullable(Type.String()),
});

const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('skipped')]);

export const WebhookDeliverySchema = Type.Object({
  id: Type.String(), webhookId: Type.String(), messageId: Type.String(), eventType: Type.String(), stream: Nullable(Type.String()), seq: Nullable(Type.Integer()),
  status: DeliveryStatus, attemptCount: Type.Integer(), nextAttemptAt: Nullable(Type.String()), lastStatusCode: Nullable(Type.Integer()),
  createdAt: Type.String(), updatedAt: Type.String(), attempts: Type.Array(WebhookAttemptSchema),
}, { $id: 'WebhookDelivery' });

export const CreateWebhookBody = Type.Object({
  url: Url, eventTypes: EventTypes, description: Type.Optional(Text({ maxLength: 500 })),
}, { additionalProperties: false });

export const UpdateWebhookBody = Type.Object({
  url: Type.Optional(Url), eventTypes: Type.Optional(EventTypes), description: Type.Optional(Nullable(Text({ maxLength: 500 }))), enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export const RotateSecretBody = Type.Object({
  overlapSeconds: Type.Optional(SafeInteger({ maximum: MAX_SECRET_OVERLAP_SECONDS, description: `How long the previous secret keeps signing; default ${DEFAULT_SECRET_OVERLAP_SECONDS} (24 h)` })),
}, { additionalProperties: false });

export const ListWebhooksQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
export const ListDeliveriesQuery = Type.Object({ ...PageQuery, status: Type.Optional(DeliveryStatus) }, { additionalProperties: false });

export const DeliveryParams = Type.Object({ id: Id, deliveryId: Id }, { additionalProperties: false });

export const ReplayEventsBody = Type.Object({
  since: Type.String({ format: 'date-time' }), until: Type.Optional(Type.String({ format: 'date-time' })), onlyFailed: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
