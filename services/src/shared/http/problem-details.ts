import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { SesameError, kindForStatus, type ProblemDetails } from '../errors.js';

export function sendProblem(reply: FastifyReply, problem: ProblemDetails) {
  return reply.status(problem.status).type('application/problem+json').send(problem);
}

/** Maps fastify's own error codes onto the catalogue. */
function fromFastifyError(error: FastifyError): SesameError | null {
  switch (error.code) {
    case 'FST_ERR_VALIDATION': {
      const errors = (error.validation ?? []).map((v) => ({
        path: `${error.validationContext ?? ''}${v.instancePath || ''}`,
        message: v.keyword === 'additionalProperties'
          ? `unknown field '${(v.params as { additionalProperty?: string }).additionalProperty}'`
          : v.message ?? 'is invalid',
      }));
      const first = errors[0];
      return new SesameError('bad-request', first ? `${first.path || error.validationContext}: ${first.message}` : error.message, { errors });
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

export function installProblemDetails(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError | SesameError, request, reply) => {
    let problem: ProblemDetails;
    if (error instanceof SesameError) {
      problem = error.toProblem();
      if (error.kind === 'rate-limited' && typeof error.extensions.retryAfter === 'number') {
        reply.header('retry-after', String(error.extensions.retryAfter));
      }
    } else {
      const mapped = fromFastifyError(error as FastifyError);
      if (mapped) problem = mapped.toProblem();
      else if ((error as FastifyError).statusCode && (error as FastifyError).statusCode! < 500) {
        const status = (error as FastifyError).statusCode!;
        problem = new SesameError(kindForStatus(status), error.message).toProblem();
      } else {
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
