import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { MAX_PRESENCE_SUBSCRIPTIONS, type ClientFrame } from '@sesamespace/sdk/protocol';

const StreamId = Type.String({ minLength: 1, maxLength: 200 });
const Cursors = Type.Record(StreamId, Type.Integer({ minimum: 0 }), { maxProperties: 10_000 });
const Secret = Type.String({ minLength: 1, maxLength: 4096 });
const PrincipalIds = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: MAX_PRESENCE_SUBSCRIPTIONS });

/** Schemas of every frame a client may send; unknown keys are tolerated (forward compatibility). */
const schemas = {
  auth: Type.Object({
    type: Type.Literal('auth'),
    apiKey: Type.Optional(Secret), token: Type.Optional(Secret),
    handle: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), nonce: Type.Optional(Secret), signature: Type.Optional(Secret),
    workspaceId: Type.Optional(Type.String({ maxLength: 100 })),
    cursors: Type.Optional(Cursors),
  }),
  meta: Type.Object({ type: Type.Literal('meta'), runtime: Type.Optional(Type.String({ maxLength: 200 })), version: Type.Optional(Type.String({ maxLength: 200 })) }),
  ping: Type.Object({ type: Type.Literal('ping') }),
  typing: Type.Object({ type: Type.Literal('typing'), channelId: StreamId }),
  replay: Type.Object({ type: Type.Literal('replay'), cursors: Cursors }),
  presence: Type.Object({ type: Type.Literal('presence'), status: Type.Union([Type.Literal('online'), Type.Literal('away')]) }),
  presence_subscribe: Type.Object({ type: Type.Literal('presence_subscribe'), principalIds: PrincipalIds }),
  presence_unsubscribe: Type.Object({ type: Type.Literal('presence_unsubscribe'), principalIds: PrincipalIds }),
} satisfies Record<ClientFrame['type'], TSchema>;

const checkers = Object.fromEntries(Object.entries(schemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)])) as {
  [K in keyof typeof schemas]: ReturnType<typeof TypeCompiler.Compile<(typeof schemas)[K]>>
};

export type ParsedClientFrame = { [K in keyof typeof schemas]: Static<(typeof schemas)[K]> }[keyof typeof schemas];

/**
 * Parses one text frame; returns the frame or why it was rejected. `unknown` marks a
 * well-formed frame of a type this gateway does not know (a newer client): answerable, not fatal.
 */
export function parseClientFrame(raw: string): { frame: ParsedClientFrame } | { error: string; unknown?: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { error: 'frame is not valid JSON' };
  }
  if (!value || typeof value !== 'object' || typeof (value as { type?: unknown }).type !== 'string') {
    return { error: 'frame must be a JSON object with a string `type`' };
  }
  const type = (value as { type: string }).type;
  const checker = Object.hasOwn(checkers, type) ? checkers[type as keyof typeof checkers] : undefined;
  if (!checker) return { error: `unknown frame type '${type.slice(0, 40)}'`, unknown: true };
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    return { error: `invalid '${type}' frame: ${first ? `${first.path || '/'} ${first.message}` : 'bad shape'}` };
  }
  return { frame: value };
}
