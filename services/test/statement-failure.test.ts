import { describe, expect, it } from 'vitest';
import { statementFailure } from '../src/shared/db/errors.js';

describe('statementFailure (what a log line says of a failed statement)', () => {
  it('keeps the SQLSTATE and message, never the detail or context that can quote the input', () => {
    const err = Object.assign(new Error('invalid input syntax for type json'), {
      code: '22P02', detail: 'Token "secret-content" is invalid.', where: 'JSON data, line 1: [{"content":"secret-content', internalQuery: 'x',
    });
    expect(statementFailure(err)).toEqual({ code: '22P02', message: 'invalid input syntax for type json' });
    expect(JSON.stringify(statementFailure(err))).not.toContain('secret-content');
  });

  it('describes errors without a SQLSTATE, and non-errors', () => {
    expect(statementFailure(new Error('Connection terminated unexpectedly'))).toEqual({ message: 'Connection terminated unexpectedly' });
    expect(statementFailure('boom')).toEqual({ message: 'boom' });
  });
});
