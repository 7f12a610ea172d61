/**
 * Errors on the wire: RFC 9457 Problem Details, sent as `application/problem+json` with a
 * `type` of `urn:sesame:error:<kind>`. The api's error catalogue is checked against
 * `PROBLEM_KINDS` at compile time, and the SDK builds its error classes from it.
 */

export const PROBLEM_TYPE_PREFIX = 'urn:sesame:error:';

/** Media type of every error body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Every kind of error the REST api answers with, and its HTTP status. */
export const PROBLEM_KINDS = {
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'payload-too-large': 413,
  'uri-too-long': 414,
  'unsupported-media-type': 415,
  'unprocessable-entity': 422,
  'rate-limited': 429,
  'internal-error': 500,
  'service-unavailable': 503,
} as const;

export type ProblemKind = keyof typeof PROBLEM_KINDS;
export type ProblemType = `${typeof PROBLEM_TYPE_PREFIX}${ProblemKind}`;

/** One field a `400` validation error found wrong. */
export interface ProblemFieldError {
  /** Where in the request: `body/name`, `querystring/limit`, … */
  path: string;
  message: string;
}

/** An error body. Members beyond the four of RFC 9457 are extensions. */
export interface ProblemDetails {
  /** `urn:sesame:error:<kind>`; switch on this, not on `detail`. */
  type: string;
  title: string;
  status: number;
  /** This occurrence, for a human; never contains a secret. */
  detail: string;
  /**
   * Same text as `detail`, for clients of the hosted Sesame service that read `body.error`
   * (then `body.message`). The api sends it on every error.
   */
  error?: string;
  /** `400` validation errors: one entry per problem found. */
  errors?: ProblemFieldError[];
  /** `429`: seconds to wait, as in the `Retry-After` header. */
  retryAfter?: number;
  [extension: string]: unknown;
}

export function problemType(kind: ProblemKind): ProblemType {
  return `${PROBLEM_TYPE_PREFIX}${kind}`;
}

/** The kind of a `urn:sesame:error:<kind>` type, or undefined for a type this protocol version does not know. */
export function problemKind(type: string): ProblemKind | undefined {
  if (!type.startsWith(PROBLEM_TYPE_PREFIX)) return undefined;
  const kind = type.slice(PROBLEM_TYPE_PREFIX.length);
  return Object.hasOwn(PROBLEM_KINDS, kind) ? (kind as ProblemKind) : undefined;
}

/** Whether a parsed response body has the shape of Problem Details. */
export function isProblemDetails(body: unknown): body is ProblemDetails {
  return typeof body === 'object' && body !== null
    && typeof (body as ProblemDetails).type === 'string' && typeof (body as ProblemDetails).status === 'number';
}
