import { Type, type IntegerOptions, type StringOptions, type TSchema } from '@sinclair/typebox';
import { badRequest } from '../errors.js';

/** Shared schema pieces; every route composes its schemas from these. */

/**
 * The pattern of free text: anything Postgres `text` and `jsonb` can store, so neither U+0000 (an
 * insert would fail with a 500 instead of a 400 naming the field) nor an unpaired UTF-16
 * surrogate (JSON may escape one, `\\ud800`; it has no UTF-8 form, so the driver would store
 * U+FFFD in its place and `jsonb` refuses it outright). Surrogate pairs are spelled out, so the
 * pattern means the same whether it is compiled with the `u` flag (ajv) or without (TypeBox's
 * `Value.Check`, used on task run events and broker policies).
 */
export const STORABLE_CHAR = '(?:[^\\u0000\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])';
export const STORABLE_TEXT_PATTERN = `^${STORABLE_CHAR}*$`;
export const UNSTORABLE_TEXT_MESSAGE = 'must not contain the NUL character (U+0000) or an unpaired surrogate (U+D800–U+DFFF)';

const STORABLE_TEXT = new RegExp(STORABLE_TEXT_PATTERN, 'u');
/** Whether Postgres can store the string as it is: the same test as the schemas' pattern. */
export const isStorableText = (value: string) => STORABLE_TEXT.test(value);

/** Free text in a request (names, descriptions, content…): storable; give it a `maxLength`. */
export const Text = (options: StringOptions & { maxLength: number }) => Type.String({ ...options, pattern: STORABLE_TEXT_PATTERN });

/**
 * An integer in a request: bounded to the safe integer range (or tighter), so a value such as
 * `99999999999999999999` or `1e400` is a 400 at the edge, never a Postgres `bigint` overflow.
 */
export const SafeInteger = (options: IntegerOptions = {}) =>
  Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, ...options });

/**
 * The bounds of a free-form JSON object in a request (message metadata): nesting depth,
 * serialised size and no U+0000 in any key or string. Checked by the `x-bounded-json` keyword
 * (`validation.ts`), before anything recursive (serialising, storing) sees the value.
 */
export interface JsonBounds { maxDepth: number; maxBytes: number }
export const BOUNDED_JSON_KEYWORD = 'x-bounded-json';
const DEFAULT_JSON_BOUNDS: JsonBounds = { maxDepth: 32, maxBytes: 256 * 1024 };
export const JsonObject = (bounds: JsonBounds = DEFAULT_JSON_BOUNDS) =>
  Type.Object({}, { additionalProperties: true, [BOUNDED_JSON_KEYWORD]: bounds });

export const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_:-]+$' });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

const Problem = Type.Object({
  type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(),
}, { additionalProperties: true, $id: 'Problem' });

/** The response of a route answering `204` (OpenAPI shows it without a body). */
export const NoContent = Type.Null({ description: 'No content' });

const Pagination = Type.Object({ nextCursor: Nullable(Type.String()), hasMore: Type.Boolean() });
export const Data = <T extends TSchema>(schema: T) => Type.Object({ data: schema });
export const Page = <T extends TSchema>(schema: T) => Type.Object({ data: Type.Array(schema), pagination: Pagination });

export const PageQuery = {
  limit: Type.Optional(SafeInteger({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Text({ maxLength: 200 })),
};

/** Error responses every authenticated route may answer with (documented in OpenAPI). */
export const errorResponses = {
  400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem, 429: Problem,
};

/** Opaque cursors: base64url JSON. Clients must not parse them; we must not trust them. */
/**
 * One page from rows fetched with `limit + 1`: the extra row only says that there is more, and the
 * next cursor points after the page's last row.
 */
export function pageOf<T>(rows: T[], limit: number, cursorAfter: (last: T) => string): { page: T[]; pagination: { hasMore: boolean; nextCursor: string | null } } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const hasMore = rows.length > limit && last !== undefined;
  return { page, pagination: { hasMore, nextCursor: hasMore ? cursorAfter(last) : null } };
}

export function encodeCursor(value: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T extends Record<string, string | number>>(cursor: string, shape: Record<keyof T, 'string' | 'number'>): T {
  let parsed: unknown;
  try { parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')); } catch { throw badRequest('cursor: is not a valid cursor'); }
  if (!parsed || typeof parsed !== 'object') throw badRequest('cursor: is not a valid cursor');
  for (const [key, type] of Object.entries(shape)) {
    const value = (parsed as Record<string, unknown>)[key];
    if (typeof value !== type || (type === 'number' && !Number.isSafeInteger(value))) throw badRequest('cursor: is not a valid cursor');
    // A forged cursor must not smuggle what the schema keeps out (U+0000 reaching a query).
    if (typeof value === 'string' && !isStorableText(value)) throw badRequest('cursor: is not a valid cursor');
  }
  return parsed as T;
}
