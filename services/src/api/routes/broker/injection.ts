/**
 * How the broker attaches a vault item's credential to an agent's request. Pure: it takes the
 * decrypted fields and returns the headers and URL to send; nothing here logs or returns the
 * credential to the caller.
 *
 * - `bearer` (default): `Authorization: Bearer <token>`.
 * - `basic`: `Authorization: Basic base64(<username>:<password>)`.
 * - `header`: `<name>: <token>` (e.g. `X-API-Key`), with an optional `prefix`.
 * - `query`: `?<param>=<token>` (replacing any value of that parameter the agent sent).
 *
 * `field` names the item field holding the secret (default `token`).
 */
export type BrokerInjection =
  | { mode: 'bearer'; field?: string }
  | { mode: 'basic'; usernameField?: string; passwordField?: string }
  | { mode: 'header'; name: string; prefix?: string; field?: string }
  | { mode: 'query'; param: string; field?: string };

export const DEFAULT_INJECTION: BrokerInjection = { mode: 'bearer' };

/**
 * Headers an agent may not set: credentials (the broker attaches its own) and hop-by-hop or
 * framing headers the outbound client computes.
 */
const STRIPPED_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-auth-token', 'cookie',
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'te', 'trailer', 'upgrade', 'expect', 'proxy-connection',
]);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Why this value is not an injection spec, or undefined. */
export function injectionProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'injection: must be an object with a mode';
  const v = value as Record<string, unknown>;
  const optionalString = (key: string) => v[key] === undefined || (typeof v[key] === 'string' && v[key] !== '');
  const allowedKeys: Record<string, string[]> = {
    bearer: ['mode', 'field'], basic: ['mode', 'usernameField', 'passwordField'], header: ['mode', 'name', 'prefix', 'field'], query: ['mode', 'param', 'field'],
  };
  if (typeof v.mode !== 'string' || !(v.mode in allowedKeys)) return 'injection.mode: must be one of bearer, basic, header, query';
  const extra = Object.keys(v).filter((k) => !allowedKeys[v.mode as string].includes(k));
  if (extra.length > 0) return `injection.${extra[0]}: unknown key for mode ${v.mode}`;
  if (!['field', 'usernameField', 'passwordField', 'prefix'].every(optionalString)) return 'injection: field names and prefix must be non-empty strings';
  if (v.mode === 'header' && (typeof v.name !== 'string' || !HEADER_NAME.test(v.name))) return 'injection.name: a valid HTTP header name is required for mode header';
  if (v.mode === 'query' && (typeof v.param !== 'string' || v.param === '')) return 'injection.param: a query parameter name is required for mode query';
  return undefined;
}

export interface PreparedRequest { url: string; headers: Record<string, string> }

/** Thrown when the item lacks the field its injection mode reads; the message names the field, never a value. */
export class MissingCredentialFieldError extends Error {}

function field(fields: Record<string, string>, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value === '') throw new MissingCredentialFieldError(`The secret has no '${name}' field to attach`);
  return value;
}

/**
 * The request to send upstream: the agent's headers without any credential or hop-by-hop
 * header, plus the item's credential as its injection mode says.
 */
export function injectCredential(injection: BrokerInjection, fields: Record<string, string>, url: URL, agentHeaders: Record<string, string>): PreparedRequest {
  const headers: Record<string, string> = {};
  const injectedHeader = injection.mode === 'header' ? injection.name.toLowerCase() : undefined;
  for (const [name, value] of Object.entries(agentHeaders)) {
    const lower = name.toLowerCase();
    if (STRIPPED_HEADERS.has(lower) || lower === injectedHeader) continue;
    headers[lower] = value;
  }
  const target = new URL(url.href);
  switch (injection.mode) {
    case 'bearer':
      headers.authorization = `Bearer ${field(fields, injection.field ?? 'token')}`;
      break;
    case 'basic': {
      const username = field(fields, injection.usernameField ?? 'username');
      const password = field(fields, injection.passwordField ?? 'password');
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      break;
    }
    case 'header':
      headers[injection.name.toLowerCase()] = `${injection.prefix ?? ''}${field(fields, injection.field ?? 'token')}`;
      break;
    case 'query':
      target.searchParams.set(injection.param, field(fields, injection.field ?? 'token'));
      break;
  }
  return { url: target.href, headers };
}
