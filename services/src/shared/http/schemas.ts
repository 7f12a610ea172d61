import { Type, type TSchema } from '@sinclair/typebox';
import { badRequest } from '../errors.js';

/** Shared schema pieces; every route composes its schemas from these. */
export const Id = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_:-]+$' });
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const Problem = Type.Object({
  type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(),
}, { additionalProperties: true, $id: 'Problem' });

/** The response of a route answering `204` (OpenAPI shows it without a body). */
export const NoContent = Type.Null({ description: 'No content' });

export const Pagination = Type.Object({ nextCursor: Nullable(Type.String()), hasMore: Type.Boolean() });
export const Data = <T extends TSchema>(schema: T) => Type.Object({ data: schema });
export const Page = <T extends TSchema>(schema: T) => Type.Object({ data: Type.Array(schema), pagination: Pagination });

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
};

/** Error responses every authenticated route may answer with (documented in OpenAPI). */
export const errorResponses = {
  400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem, 429: Problem,
};

/** Opaque cursors: base64url JSON. Clients must not parse them; we must not trust them. */
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
  }
  return parsed as T;
}
