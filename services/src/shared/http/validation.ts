import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export; interop differs between tsx and bundlers.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;
import type { FastifyInstance } from 'fastify';
import { BOUNDED_JSON_KEYWORD, UNSTORABLE_TEXT_MESSAGE, isStorableText, type JsonBounds } from './schemas.js';

/**
 * Why a free-form JSON value is out of bounds, or null. Iterative, and it stops at the first
 * level past `maxDepth`, so a value nested 100,000 deep costs no stack; the size is measured only
 * once the depth is known to be small (JSON.stringify itself recurses).
 */
function jsonBoundsViolation(value: unknown, bounds: JsonBounds): string | null {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let item = pending.pop(); item; item = pending.pop()) {
    const { value: current, depth } = item;
    if (typeof current === 'string') {
      if (!isStorableText(current)) return UNSTORABLE_TEXT_MESSAGE;
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth > bounds.maxDepth) return `must not be nested deeper than ${bounds.maxDepth} levels`;
    for (const [key, child] of Object.entries(current)) {
      if (!isStorableText(key)) return UNSTORABLE_TEXT_MESSAGE;
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  if (Buffer.byteLength(JSON.stringify(value)) > bounds.maxBytes) return `must not exceed ${bounds.maxBytes} bytes as JSON`;
  return null;
}

function validateBoundedJson(this: unknown, bounds: JsonBounds, data: unknown): boolean {
  const message = jsonBoundsViolation(data, bounds);
  if (message === null) return true;
  validateBoundedJson.errors = [{ keyword: BOUNDED_JSON_KEYWORD, message, params: { ...bounds } }];
  return false;
}
validateBoundedJson.errors = [] as Partial<ErrorObject>[];

/**
 * Two validators: bodies are validated strictly (no type coercion, unknown fields rejected,
 * never silently stripped), while query strings and path params are coerced from strings, as
 * they can only be strings on the wire. Both know `x-bounded-json` (`JsonObject` in schemas.ts).
 */
function makeAjv(options: Options) {
  const ajv = new Ajv({ allErrors: false, useDefaults: true, removeAdditional: false, strict: false, ...options });
  addFormats(ajv);
  ajv.addKeyword({ keyword: BOUNDED_JSON_KEYWORD, schemaType: 'object', errors: true, validate: validateBoundedJson });
  return ajv;
}

export function installValidators(app: FastifyInstance) {
  const strict = makeAjv({ coerceTypes: false });
  const coercing = makeAjv({ coerceTypes: 'array' });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : coercing.compile(schema),
  );
}
