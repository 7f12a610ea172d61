/**
 * Errors the SDK throws. Server errors arrive as RFC 9457 Problem Details and become one of these
 * classes, each carrying the whole problem, so callers can `instanceof` or switch on `type`.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
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
  /** Seconds to wait before retrying, from `Retry-After` (429/503). */
  readonly retryAfter?: number;
  readonly problem?: ProblemDetails;

  constructor(init: { status: number; type: string; title: string; detail: string; requestId?: string; retryAfter?: number; problem?: ProblemDetails }) {
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

export class BadRequestError extends SesameError {}
export class UnauthorizedError extends SesameError {}
export class ForbiddenError extends SesameError {}
export class NotFoundError extends SesameError {}
export class ConflictError extends SesameError {}
export class PayloadTooLargeError extends SesameError {}
export class UnprocessableEntityError extends SesameError {}
export class RateLimitError extends SesameError {}
export class InternalServerError extends SesameError {}
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

const BY_STATUS: Record<number, typeof SesameError> = {
  400: BadRequestError, 401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError, 409: ConflictError,
  413: PayloadTooLargeError, 422: UnprocessableEntityError, 429: RateLimitError, 500: InternalServerError,
  502: ServiceUnavailableError, 503: ServiceUnavailableError, 504: ServiceUnavailableError,
};

/** Seconds from a `Retry-After` header (delta-seconds or HTTP date). */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

/** Builds the right error class from an HTTP error response. */
export function errorFromResponse(status: number, body: unknown, headers: { get(name: string): string | null }): SesameError {
  const problem = isProblem(body) ? body : undefined;
  const ErrorClass = BY_STATUS[status] ?? (status >= 500 ? InternalServerError : SesameError);
  return new ErrorClass({
    status,
    type: problem?.type ?? `urn:sesame:error:http-${status}`,
    title: problem?.title ?? `HTTP ${status}`,
    detail: problem?.detail ?? (typeof body === 'string' && body ? body.slice(0, 500) : 'The server returned an error without details'),
    requestId: headers.get('x-request-id') ?? undefined,
    retryAfter: parseRetryAfter(headers.get('retry-after')),
    problem,
  });
}

function isProblem(body: unknown): body is ProblemDetails {
  return typeof body === 'object' && body !== null && typeof (body as ProblemDetails).type === 'string' && typeof (body as ProblemDetails).status === 'number';
}
