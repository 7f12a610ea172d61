import { PROBLEM_KINDS, isProblemDetails, problemKind, type ProblemDetails, type ProblemKind } from './protocol/index.js';

/**
 * Errors the SDK throws. Server errors arrive as RFC 9457 Problem Details and become one of these
 * classes, chosen by the problem's `type` (`urn:sesame:error:<kind>`), each carrying the whole
 * problem, so callers can `instanceof` or switch on `type`.
 */
export type { ProblemDetails, ProblemKind };

export interface SesameErrorInit {
  status: number; type: string; title: string; detail: string; requestId?: string; retryAfter?: number; problem?: ProblemDetails;
}

export class SesameError extends Error {
  /** HTTP status (0 for network errors). */
  readonly status: number;
  /** `urn:sesame:error:<kind>`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  /** The server's `x-request-id`, to quote in bug reports. */
  readonly requestId?: string;
  /** Seconds to wait before retrying, from `Retry-After` or the body's `retryAfter` (429/503). */
  readonly retryAfter?: number;
  /** The whole error body when it was Problem Details (extensions such as `errors` included). */
  readonly problem?: ProblemDetails;

  constructor(init: SesameErrorInit) {
    super(`${init.title}: ${init.detail}`);
    this.name = new.target.name;
    this.status = init.status;
    this.type = init.type;
    this.title = init.title;
    this.detail = init.detail;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
    this.problem = init.problem;
  }
}

/** `bad-request` (400): malformed input; `problem.errors` lists each field at fault. */
export class BadRequestError extends SesameError {}
/** `unauthorized` (401): no valid credential. */
export class UnauthorizedError extends SesameError {}
/** `forbidden` (403): authenticated, but not allowed. */
export class ForbiddenError extends SesameError {}
/** `not-found` (404): no such resource in your workspace. */
export class NotFoundError extends SesameError {}
/** `conflict` (409): conflicts with current state (duplicate handle, task already claimed). */
export class ConflictError extends SesameError {}
/** `payload-too-large` (413). */
export class PayloadTooLargeError extends SesameError {}
/** `uri-too-long` (414): a path parameter exceeds the server's length limit. */
export class UriTooLongError extends SesameError {}
/** `unsupported-media-type` (415). */
export class UnsupportedMediaTypeError extends SesameError {}
/** `unprocessable-entity` (422): well-formed but semantically invalid. */
export class UnprocessableEntityError extends SesameError {}
/** `rate-limited` (429): wait `retryAfter` seconds. */
export class RateLimitError extends SesameError {}
/** `internal-error` (500), and any other 5xx the SDK has no better class for. */
export class InternalServerError extends SesameError {}
/** `service-unavailable` (503), and 502/504 from a proxy: retry later. */
export class ServiceUnavailableError extends SesameError {}
/** The request never got an HTTP answer (DNS, refused, reset, timeout). */
export class ConnectionError extends SesameError {}

/** What went wrong on the realtime connection; the `type` is `urn:sesame:error:<kind>`. */
export type RealtimeErrorKind =
  | 'realtime-not-configured' // no `wsUrl` option
  | 'realtime-unavailable' // no WebSocket implementation in this runtime
  | 'realtime-auth-failed' // the gateway rejected the credentials
  | 'realtime-closed' // closed for good: `disconnect()`, a normal server close, or `autoReconnect: false`
  | 'realtime-gave-up' // `maxReconnectAttempts` consecutive attempts failed
  | 'realtime-protocol'; // the gateway sent an `error` frame or a frame that is not JSON

/** A failure of the realtime (WebSocket) connection. `status` is 0: no HTTP answer is involved. */
export class RealtimeError extends SesameError {
  /** The WebSocket close code that caused it, when a close did. */
  readonly closeCode?: number;

  constructor(init: { kind: RealtimeErrorKind; title: string; detail: string; closeCode?: number; cause?: unknown }) {
    super({ status: 0, type: `urn:sesame:error:${init.kind}`, title: init.title, detail: init.detail });
    this.closeCode = init.closeCode;
    if (init.cause !== undefined) (this as { cause?: unknown }).cause = init.cause;
  }
}

/** The gateway rejected the credentials (close code 4001) and a refresh could not fix it. */
export class RealtimeAuthError extends RealtimeError {}

type SesameErrorClass = new (init: SesameErrorInit) => SesameError;

/** One class per kind of the protocol: a kind added there fails to compile here until it has one. */
const BY_KIND: Record<ProblemKind, SesameErrorClass> = {
  'bad-request': BadRequestError, unauthorized: UnauthorizedError, forbidden: ForbiddenError, 'not-found': NotFoundError,
  conflict: ConflictError, 'payload-too-large': PayloadTooLargeError, 'uri-too-long': UriTooLongError,
  'unsupported-media-type': UnsupportedMediaTypeError, 'unprocessable-entity': UnprocessableEntityError,
  'rate-limited': RateLimitError, 'internal-error': InternalServerError, 'service-unavailable': ServiceUnavailableError,
};

/** For bodies without a known `type` (a proxy's HTML page, a newer server's new kind): the kind's class by status. */
const BY_STATUS = new Map<number, SesameErrorClass>([
  ...(Object.keys(PROBLEM_KINDS) as ProblemKind[]).map((kind) => [PROBLEM_KINDS[kind], BY_KIND[kind]] as const),
  // Gateways and load balancers in front of the api.
  [502, ServiceUnavailableError], [504, ServiceUnavailableError],
]);

/** The class for a problem `type`, else for the HTTP `status`. */
export function errorClassFor(type: string | undefined, status: number): SesameErrorClass {
  const kind = type === undefined ? undefined : problemKind(type);
  if (kind) return BY_KIND[kind];
  return BY_STATUS.get(status) ?? (status >= 500 ? InternalServerError : SesameError);
}

/** Seconds from a `Retry-After` header (delta-seconds or HTTP date). */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

/**
 * Builds the right error class from an HTTP error response (the parsed JSON body, or its text
 * when it was not JSON). The class follows the Problem Details `type`; bodies that are not
 * Problem Details, or carry a type this SDK does not know, are classed by status.
 */
export function errorFromResponse(status: number, body: unknown, headers: { get(name: string): string | null }): SesameError {
  const problem = isProblemDetails(body) ? body : undefined;
  const ErrorClass = errorClassFor(problem?.type, status);
  const bodyRetryAfter = typeof problem?.retryAfter === 'number' && problem.retryAfter >= 0 ? problem.retryAfter : undefined;
  return new ErrorClass({
    status,
    type: problem?.type ?? `urn:sesame:error:http-${status}`,
    title: typeof problem?.title === 'string' ? problem.title : `HTTP ${status}`,
    detail: detailOf(problem ?? body),
    requestId: headers.get('x-request-id') ?? undefined,
    retryAfter: parseRetryAfter(headers.get('retry-after')) ?? bodyRetryAfter,
    problem,
  });
}

const MAX_TEXT_DETAIL = 500;

/** The most helpful text in an error body: `detail`, then the `error`/`message` other servers send, then the text itself. */
function detailOf(body: unknown): string {
  if (typeof body === 'object' && body !== null) {
    for (const key of ['detail', 'error', 'message'] as const) {
      const value = (body as Record<string, unknown>)[key];
      if (typeof value === 'string' && value) return value;
    }
  }
  if (typeof body === 'string') {
    // A proxy's HTML error page: keep its words, not its markup.
    const text = (/<html|<body|<!doctype/i.test(body) ? body.replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]*>/g, ' ') : body)
      .replace(/\s+/g, ' ').trim();
    if (text) return text.slice(0, MAX_TEXT_DETAIL);
  }
  return 'The server returned an error without details';
}
