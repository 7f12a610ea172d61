import { PROBLEM_KINDS, PROBLEM_TYPE_PREFIX, type ProblemDetails, type ProblemKind } from '@sesamespace/sdk/protocol';

export type { ProblemDetails };

/**
 * The one Problem Details catalogue (RFC 9457): titles and descriptions of the kinds the wire
 * protocol defines (`@sesamespace/sdk/protocol`, `PROBLEM_KINDS`). A kind missing, extra or with
 * another status than the protocol's is a type error. `docs/errors.md` mirrors it and a test
 * keeps the two in step. Every error a client can see is one of these kinds.
 */
export const ERROR_CATALOGUE = {
  'bad-request': { status: 400, title: 'Bad Request', description: 'The request is malformed: invalid JSON, wrong types, unknown fields, bad cursor.' },
  unauthorized: { status: 401, title: 'Unauthorized', description: 'No valid credential: missing, unknown, expired or revoked key or token.' },
  forbidden: { status: 403, title: 'Forbidden', description: 'Authenticated, but not allowed to do this (not a member, not an admin, missing scope).' },
  'not-found': { status: 404, title: 'Not Found', description: 'No such resource in your workspace (resources of other workspaces are never revealed).' },
  conflict: { status: 409, title: 'Conflict', description: 'The request conflicts with current state (duplicate handle or email, already a member, file already registered).' },
  'payload-too-large': { status: 413, title: 'Payload Too Large', description: 'The request body exceeds the configured limit (SESAME_BODY_LIMIT_BYTES).' },
  'uri-too-long': { status: 414, title: 'URI Too Long', description: 'A path parameter exceeds the router\'s length limit (ids are at most 100 characters).' },
  'unsupported-media-type': { status: 415, title: 'Unsupported Media Type', description: 'The body is not `application/json`.' },
  'unprocessable-entity': { status: 422, title: 'Unprocessable Entity', description: 'Well-formed, but semantically invalid (unknown member id, invalid Ed25519 public key, thread root in another channel).' },
  'rate-limited': { status: 429, title: 'Too Many Requests', description: 'Rate limit exceeded; retry after the `Retry-After` header (seconds).' },
  'internal-error': { status: 500, title: 'Internal Server Error', description: 'An unexpected error; details are logged on the server, never sent to the client.' },
  'service-unavailable': { status: 503, title: 'Service Unavailable', description: 'A dependency (database, bus) is unavailable or the server is shutting down; retry.' },
} as const satisfies { [K in ProblemKind]: { status: (typeof PROBLEM_KINDS)[K]; title: string; description: string } };

export type ErrorKind = ProblemKind;
export const ERROR_TYPE_PREFIX = PROBLEM_TYPE_PREFIX;

export class SesameError extends Error {
  readonly status: number;
  constructor(readonly kind: ErrorKind, detail: string, readonly extensions: Record<string, unknown> = {}) {
    super(detail);
    this.name = 'SesameError';
    this.status = ERROR_CATALOGUE[kind].status;
  }

  /**
   * The body sent to the client. `error` repeats `detail` for clients of the hosted service,
   * which read `body.error` (then `body.message`); docs/errors.md documents it.
   */
  toProblem(): ProblemDetails & { error: string } {
    const entry = ERROR_CATALOGUE[this.kind];
    return { type: ERROR_TYPE_PREFIX + this.kind, title: entry.title, status: entry.status, detail: this.message, ...this.extensions, error: this.message };
  }
}

export const badRequest = (detail: string, ext?: Record<string, unknown>) => new SesameError('bad-request', detail, ext);
export const unauthorized = (detail = 'A valid API key or access token is required') => new SesameError('unauthorized', detail);
export const forbidden = (detail: string) => new SesameError('forbidden', detail);
export const notFound = (what: string) => new SesameError('not-found', `${what} not found`);
export const conflict = (detail: string, ext?: Record<string, unknown>) => new SesameError('conflict', detail, ext);
export const unprocessable = (detail: string, ext?: Record<string, unknown>) => new SesameError('unprocessable-entity', detail, ext);

export function kindForStatus(status: number): ErrorKind {
  const match = (Object.keys(ERROR_CATALOGUE) as ErrorKind[]).find((k) => ERROR_CATALOGUE[k].status === status);
  if (match) return match;
  return status >= 500 ? 'internal-error' : 'bad-request';
}
