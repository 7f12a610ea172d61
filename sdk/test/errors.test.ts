import { afterEach, describe, expect, it } from 'vitest';
import {
  BadRequestError, ConflictError, ForbiddenError, InternalServerError, NotFoundError, PayloadTooLargeError, RateLimitError, SesameClient,
  SesameError, ServiceUnavailableError, UnauthorizedError, UnprocessableEntityError, UnsupportedMediaTypeError, UriTooLongError,
  errorFromResponse,
} from '../src/index.js';
import { PROBLEM_KINDS, problemKind, problemType, type ProblemDetails, type ProblemKind } from '../src/protocol/index.js';
import { fakeServer, json } from './fake-server.js';

const headers = (values: Record<string, string> = {}) => new Headers(values);
const problemOf = (kind: ProblemKind, extra: Record<string, unknown> = {}): ProblemDetails =>
  ({ type: problemType(kind), title: `title of ${kind}`, status: PROBLEM_KINDS[kind], detail: `detail of ${kind}`, ...extra });

const CLASS_OF: Record<ProblemKind, typeof SesameError> = {
  'bad-request': BadRequestError, unauthorized: UnauthorizedError, forbidden: ForbiddenError, 'not-found': NotFoundError,
  conflict: ConflictError, 'payload-too-large': PayloadTooLargeError, 'uri-too-long': UriTooLongError,
  'unsupported-media-type': UnsupportedMediaTypeError, 'unprocessable-entity': UnprocessableEntityError,
  'rate-limited': RateLimitError, 'internal-error': InternalServerError, 'service-unavailable': ServiceUnavailableError,
};

describe('errorFromResponse', () => {
  it.each(Object.keys(PROBLEM_KINDS) as ProblemKind[])('builds the class of %s from the Problem Details type, keeping the whole problem', (kind) => {
    const body = problemOf(kind, { error: `detail of ${kind}` });
    const error = errorFromResponse(PROBLEM_KINDS[kind], body, headers({ 'x-request-id': 'req-7' }));
    expect(error).toBeInstanceOf(CLASS_OF[kind]);
    expect(error).toBeInstanceOf(SesameError);
    expect(error.name).toBe(CLASS_OF[kind].name);
    expect(error).toMatchObject({
      status: PROBLEM_KINDS[kind], type: `urn:sesame:error:${kind}`, title: `title of ${kind}`, detail: `detail of ${kind}`, requestId: 'req-7',
    });
    expect(error.problem).toEqual(body);
    expect(error.message).toBe(`title of ${kind}: detail of ${kind}`);
  });

  it('follows the type, not the status, when they disagree', () => {
    // e.g. a proxy rewrote the status; the body still says what happened.
    expect(errorFromResponse(400, problemOf('not-found'), headers())).toBeInstanceOf(NotFoundError);
    expect(errorFromResponse(500, problemOf('service-unavailable'), headers())).toBeInstanceOf(ServiceUnavailableError);
    expect(errorFromResponse(403, problemOf('conflict'), headers()).status).toBe(403);
  });

  it('falls back to the status for a type it does not know, keeping that type and the problem', () => {
    const unknownKind = { type: 'urn:sesame:error:quota-exceeded', title: 'Quota Exceeded', status: 409, detail: 'Out of quota' };
    const error = errorFromResponse(409, unknownKind, headers());
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ type: 'urn:sesame:error:quota-exceeded', title: 'Quota Exceeded', detail: 'Out of quota', problem: unknownKind });
    expect(errorFromResponse(418, { ...unknownKind, status: 418 }, headers()).constructor).toBe(SesameError);
    expect(errorFromResponse(507, { type: 'about:blank', title: 'Insufficient Storage', status: 507, detail: 'disk' }, headers())).toBeInstanceOf(InternalServerError);
    expect(errorFromResponse(504, { type: 'https://example.com/probs/timeout', title: 'Timeout', status: 504, detail: 'upstream' }, headers())).toBeInstanceOf(ServiceUnavailableError);
  });

  it('still yields a useful error from a body that is not JSON', () => {
    const page = '<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>';
    const proxy = errorFromResponse(502, page, headers({ 'x-request-id': 'edge-1' }));
    expect(proxy).toBeInstanceOf(ServiceUnavailableError);
    expect(proxy).toMatchObject({ status: 502, type: 'urn:sesame:error:http-502', title: 'HTTP 502', detail: '502 Bad Gateway 502 Bad Gateway nginx', requestId: 'edge-1', problem: undefined });

    const text = errorFromResponse(404, 'no such thing\n', headers());
    expect(text).toBeInstanceOf(NotFoundError);
    expect(text.detail).toBe('no such thing');

    const empty = errorFromResponse(500, undefined, headers());
    expect(empty).toBeInstanceOf(InternalServerError);
    expect(empty.detail).toBe('The server returned an error without details');
    expect(errorFromResponse(400, 'x'.repeat(5000), headers()).detail).toHaveLength(500);
  });

  it('reads `error`, then `message`, from JSON bodies that are not Problem Details', () => {
    expect(errorFromResponse(403, { error: 'Not a member', message: 'ignored' }, headers())).toMatchObject({ detail: 'Not a member', title: 'HTTP 403' });
    expect(errorFromResponse(400, { message: 'Bad thing' }, headers())).toMatchObject({ detail: 'Bad thing' });
    expect(errorFromResponse(400, { message: 'Bad thing' }, headers())).toBeInstanceOf(BadRequestError);
  });

  it('takes retryAfter from the Retry-After header (seconds or date), else from the body', () => {
    const limited = problemOf('rate-limited', { retryAfter: 42 });
    const fromHeader = errorFromResponse(429, limited, headers({ 'retry-after': '7' }));
    expect(fromHeader).toBeInstanceOf(RateLimitError);
    expect(fromHeader.retryAfter).toBe(7);
    expect(errorFromResponse(429, limited, headers()).retryAfter).toBe(42);
    const date = new Date(Date.now() + 30_000).toUTCString();
    const fromDate = errorFromResponse(429, limited, headers({ 'retry-after': date })).retryAfter!;
    expect(fromDate).toBeGreaterThan(20);
    expect(fromDate).toBeLessThanOrEqual(30);
    expect(errorFromResponse(429, 'slow down', headers({ 'retry-after': '3' }))).toMatchObject({ retryAfter: 3, detail: 'slow down' });
    expect(errorFromResponse(429, problemOf('rate-limited'), headers()).retryAfter).toBeUndefined();
  });
});

describe('problem kinds', () => {
  it('parses only urn:sesame:error: types of known kinds', () => {
    expect(problemKind('urn:sesame:error:not-found')).toBe('not-found');
    expect(problemKind('urn:sesame:error:toString')).toBeUndefined();
    expect(problemKind('urn:sesame:error:')).toBeUndefined();
    expect(problemKind('not-found')).toBeUndefined();
    expect(problemType('rate-limited')).toBe('urn:sesame:error:rate-limited');
  });
});

describe('errors through the client', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => { await close?.(); close = undefined; });

  it('turns a 429 with Retry-After into a RateLimitError once retries run out', async () => {
    const server = await fakeServer((_req, res) => { json(res, 429, problemOf('rate-limited', { retryAfter: 9 }), { 'retry-after': '0', 'x-request-id': 'req-429' }); });
    close = server.close;
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 1 });
    const error = await client.getMe().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, retryAfter: 0, requestId: 'req-429' });
    expect(server.requests).toHaveLength(2);
  });

  it('reports a non-JSON error page with its status class and text', async () => {
    const server = await fakeServer((_req, res) => { res.writeHead(413, { 'content-type': 'text/html' }); res.end('<html><body><h1>413 Request Entity Too Large</h1></body></html>'); });
    close = server.close;
    const client = new SesameClient({ apiUrl: server.url, apiKey: 'sk_a', maxRetries: 0 });
    const error = await client.sendMessage('ch_1', { content: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ status: 413, detail: '413 Request Entity Too Large' });
  });
});
