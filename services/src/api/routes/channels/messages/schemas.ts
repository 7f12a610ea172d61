import { Type } from '@sinclair/typebox';
import { Id, JsonObject, Nullable, SafeInteger, Text } from '../../../../shared/http/schemas.js';
import { MESSAGE_KINDS } from './kinds.js';

const MessageKind = Type.Union(MESSAGE_KINDS.map((k) => Type.Literal(k)));
const MAX_CONTENT = 100_000;

export const MessageSchema = Type.Object({
  id: Type.String(), channelId: Type.String(), senderId: Type.String(), seq: Type.Integer(), kind: Type.String(), content: Type.String(),
  intent: Nullable(Type.String()), threadRootId: Nullable(Type.String()), clientGeneratedId: Nullable(Type.String()),
  attachmentIds: Type.Array(Type.String()), streaming: Type.Boolean(), metadata: Type.Object({}, { additionalProperties: true }),
  editedAt: Nullable(Type.String()), deletedAt: Nullable(Type.String()), createdAt: Type.String(),
}, { $id: 'Message' });

export const SendMessageBody = Type.Object({
  content: Text({ maxLength: MAX_CONTENT }),
  kind: Type.Optional(MessageKind),
  intent: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  threadRootId: Type.Optional(Id),
  attachmentIds: Type.Optional(Type.Array(Id, { maxItems: 20, uniqueItems: true })),
  clientGeneratedId: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
  metadata: Type.Optional(JsonObject()),
}, { additionalProperties: false });

export const EditMessageBody = Type.Object({
  content: Text({ maxLength: MAX_CONTENT }),
  streaming: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

export const MessageParams = Type.Object({ id: Id, messageId: Id }, { additionalProperties: false });

export const HistoryQuery = Type.Object({
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Text({ maxLength: 200 })),
  direction: Type.Optional(Type.Union([Type.Literal('before'), Type.Literal('after')])),
  before: Type.Optional(SafeInteger()),
  after: Type.Optional(SafeInteger()),
}, { additionalProperties: false });
