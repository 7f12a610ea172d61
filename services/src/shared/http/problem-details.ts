import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { SesameError, kindForStatus, type ProblemDetails } from '../errors.js';
import { STORABLE_TEXT_PATTERN, UNSTORABLE_TEXT_MESSAGE } from './schemas.js';

function sendProblem(reply: FastifyReply, problem: ProblemDetails) {
  return reply.status(problem.status).type('application/problem+json').send(problem);
}

/** Fastify's own errors (validation, content-type parsing, router) carry a string `code`. */
function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && 'code' in error && typeof error.code === 'string';
}

function validationMessage(v: NonNullable<FastifyError['validation']>[number]): string {
  if (v.keyword === 'additionalProperties') return `unknown field '${String(v.params.additionalProperty)}'`;
  if (v.keyword === 'pattern' && v.params.pattern === STORABLE_TEXT_PATTERN) return UNSTORABLE_TEXT_MESSAGE;
  return v.message ?? 'is invalid';
}

/** Maps fastify's own error codes onto the catalogue. */
function fromFastifyError(error: FastifyError): SesameError | null {
  switch (error.code) {
    case 'FST_ERR_VALIDATION': {
      const errors = (error.validation ?? []).map((v) => ({
        path: `${error.validationContext ?? ''}${v.instancePath || ''}`,
        message: validationMessage(v),
      }));
      const first = errors.at(0);
      return new SesameError('bad-request', first ? `${first.path}: ${first.message}` : error.message, { errors });
    }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new SesameError('bad-request', 'The request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new SesameError('payload-too-large', 'The request body exceeds the size limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new SesameError('unsupported-media-type', 'Send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new SesameError('bad-request', 'The Content-Length header does not match the body');
    default:
      return null;
  }
}

/** The catalogue entry for an error a client made (4xx) that fastify raised, or null. */
function clientProblem(error: unknown): SesameError | null {
  const mapped = isFastifyError(error) ? fromFastifyError(error) : null;
  if (mapped) return mapped;
  // Plugins' errors carry a `statusCode` without necessarily having a fastify code.
  if (!(error instanceof Error) || !('statusCode' in error) || typeof error.statusCode !== 'number') return null;
  return error.statusCode > 0 && error.statusCode < 500 ? new SesameError(kindForStatus(error.statusCode), error.message) : null;
}

/** Errors the router raises before any route runs (bad URL encoding, oversize params). */
export function sendFrameworkError(error: FastifyError, reply: FastifyReply) {
  const kind = error.statusCode === 414 ? 'uri-too-long' : 'bad-request';
  return sendProblem(reply, new SesameError(kind, error.message).toProblem());
}

/** One error handler and one not-found handler: every error a client sees is Problem Details. */
export function installProblemDetails(app: FastifyInstance) {
  app.setErrorHandler((error: unknown, request, reply) => {
    let problem: ProblemDetails;
    if (error instanceof SesameError) {
      problem = error.toProblem();
      // A 429, or a 503 that knows when capacity returns (the password-hashing queue), says when to retry.
      if ((error.kind === 'rate-limited' || error.kind === 'service-unavailable') && typeof error.extensions.retryAfter === 'number') {
        reply.header('retry-after', String(error.extensions.retryAfter));
      }
    } else {
      const fromClient = clientProblem(error);
      if (fromClient) problem = fromClient.toProblem();
      else {
        // Unexpected: log the error, never leak internals to the client.
        request.log.error({ err: error }, 'unhandled error');
        problem = new SesameError('internal-error', `An unexpected error occurred (request ${request.id})`).toProblem();
      }
    }
    return sendProblem(reply, problem);
  });

  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new SesameError('not-found', `No route ${request.method} ${request.url.split('?')[0]}`).toProblem()),
  );
}
