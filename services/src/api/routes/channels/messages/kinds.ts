import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { badRequest } from '../../../../shared/errors.js';
import { SERVER_METADATA_KEYS } from '../../../wire.js';

/**
 * Message kinds and the metadata each carries. Structured kinds let agents show their work
 * (tool calls, thinking, status) in a form UIs can render without parsing prose.
 */
const Open = { additionalProperties: true } as const;
const Str = (max = 10_000) => Type.String({ maxLength: max });

const KIND_METADATA: Record<string, TSchema> = {
  text: Type.Object({}, Open),
  attachment: Type.Object({}, Open),
  tool_call: Type.Object({
    toolCall: Type.Object({
      callId: Str(200), name: Str(200), input: Type.Optional(Type.Unknown()),
      state: Type.Optional(Type.Union(['pending', 'running', 'completed', 'failed'].map((s) => Type.Literal(s)))),
      description: Type.Optional(Type.Union([Str(), Type.Null()])),
    }, Open),
  }, Open),
  tool_result: Type.Object({
    toolResult: Type.Object({ callId: Str(200), output: Type.Optional(Type.Unknown()), isError: Type.Optional(Type.Boolean()) }, Open),
  }, Open),
  thinking: Type.Object({ thinkingText: Type.Optional(Str(100_000)) }, Open),
  status: Type.Object({ status: Str(100), progress: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })) }, Open),
  permission_request: Type.Object({
    permissionRequest: Type.Object({ requestId: Str(200), action: Str(1000), details: Type.Optional(Type.Unknown()) }, Open),
  }, Open),
  permission_response: Type.Object({
    permissionResponse: Type.Object({ requestId: Str(200), decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]), reason: Type.Optional(Str(2000)) }, Open),
  }, Open),
  error: Type.Object({ error: Type.Optional(Type.Object({ code: Type.Optional(Str(200)), message: Type.Optional(Str()) }, Open)) }, Open),
  log: Type.Object({ logType: Type.Optional(Type.Union(['debug', 'info', 'warn', 'error'].map((s) => Type.Literal(s)))), logMessage: Type.Optional(Str(100_000)) }, Open),
};

export const MESSAGE_KINDS = Object.keys(KIND_METADATA);
// Reserved keys the server fills in; a client may not forge who sent a message.
const RESERVED = SERVER_METADATA_KEYS;

export function validateMetadata(kind: string, metadata: Record<string, unknown>) {
  const reserved = RESERVED.find((k) => k in metadata);
  if (reserved) throw badRequest(`metadata.${reserved}: is set by the server`);
  const schema = KIND_METADATA[kind];
  const error = Value.Errors(schema, metadata).First();
  if (error) throw badRequest(`metadata${error.path.replaceAll('/', '.')}: ${error.message} (required for kind '${kind}')`);
}
