import type { SecretInjection } from '@sesamespace/sdk/protocol';

/**
 * How the broker attaches a vault item's credential to an agent's request (the item's
 * `injection`, validated by the vault when saved). Pure: it takes the decrypted fields and
 * returns the headers and URL to send; nothing here logs the credential.
 *
 * - `bearer` (the default of `api_key` items): `Authorization: Bearer <token>`.
 * - `basic`: `Authorization: Basic base64(<username>:<password>)`.
 * - `header`: `<name>: <token>` (e.g. `X-API-Key`).
 * - `query`: `?<name>=<token>`, replacing any value of that parameter the agent sent.
 *
 * `<token>` is the item's `token` field (or, for items stored before, `key` or `api_key`).
 */

/**
 * Headers an agent may not set: credentials (the broker attaches its own) and hop-by-hop or
 * framing headers the outbound client computes.
 */
const STRIPPED_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-auth-token', 'cookie',
  'host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'te', 'trailer', 'upgrade', 'expect', 'proxy-connection',
]);

export interface PreparedRequest { url: string; headers: Record<string, string> }

/** Thrown when the item lacks the field its injection mode reads; the message names the field, never a value. */
export class MissingCredentialFieldError extends Error {}

function field(fields: Record<string, string>, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value === '') throw new MissingCredentialFieldError(`The secret has no '${name}' field to attach`);
  return value;
}

const TOKEN_FIELDS = ['token', 'key', 'api_key'];

function tokenField(fields: Record<string, string>): string {
  return field(fields, TOKEN_FIELDS.find((name) => fields[name]) ?? 'token');
}

/** The values that must never reach the agent: each field, and the Basic encoding of the pair. */
export function credentialValues(injection: SecretInjection, fields: Record<string, string>): string[] {
  const values = Object.values(fields).filter((v) => v.length >= 4);
  if (injection.mode === 'basic' && fields.username && fields.password) values.push(Buffer.from(`${fields.username}:${fields.password}`).toString('base64'));
  return values.sort((a, b) => b.length - a.length);
}

/**
 * The request to send upstream: the agent's headers without any credential or hop-by-hop
 * header, plus the item's credential as its injection mode says.
 */
export function injectCredential(injection: SecretInjection, fields: Record<string, string>, url: URL, agentHeaders: Record<string, string>): PreparedRequest {
  const headers: Record<string, string> = {};
  const injectedHeader = injection.mode === 'header' ? injection.name?.toLowerCase() : undefined;
  for (const [name, value] of Object.entries(agentHeaders)) {
    const lower = name.toLowerCase();
    if (STRIPPED_HEADERS.has(lower) || lower === injectedHeader) continue;
    headers[lower] = value;
  }
  const target = new URL(url.href);
  switch (injection.mode) {
    case 'bearer':
      headers.authorization = `Bearer ${tokenField(fields)}`;
      break;
    case 'basic':
      headers.authorization = `Basic ${Buffer.from(`${field(fields, 'username')}:${field(fields, 'password')}`).toString('base64')}`;
      break;
    case 'header':
      headers[injectedHeader ?? 'x-api-key'] = tokenField(fields);
      break;
    case 'query':
      target.searchParams.set(injection.name ?? 'key', tokenField(fields));
      break;
  }
  return { url: target.href, headers };
}
