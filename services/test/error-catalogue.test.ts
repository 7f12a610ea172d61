import { readFileSync } from 'node:fs';
import { PROBLEM_KINDS } from '@sesamespace/sdk/protocol';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_TYPE_PREFIX, SesameError, type ErrorKind } from '../src/shared/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error catalogue', () => {
  it('docs/errors.md lists exactly the catalogue, with the same status and title', () => {
    const rows = [...doc.matchAll(/^\| `urn:sesame:error:([a-z-]+)` \| (\d+) \| ([^|]+) \|/gm)].map((m) => [m[1], Number(m[2]), m[3].trim()]);
    const expected = Object.entries(ERROR_CATALOGUE).map(([kind, e]) => [kind, e.status, e.title]);
    expect(rows).toEqual(expected);
  });

  it('renders every kind as Problem Details with the urn type, and `detail` repeated as `error` for hosted-service clients', () => {
    for (const kind of Object.keys(ERROR_CATALOGUE) as ErrorKind[]) {
      const problem = new SesameError(kind, 'detail text').toProblem();
      expect(problem).toEqual({ type: ERROR_TYPE_PREFIX + kind, title: ERROR_CATALOGUE[kind].title, status: ERROR_CATALOGUE[kind].status, detail: 'detail text', error: 'detail text' });
    }
  });

  it('keeps extensions, and `error` always equal to `detail`', () => {
    const problem = new SesameError('rate-limited', 'slow down', { retryAfter: 3, error: 'something else' }).toProblem();
    expect(problem).toEqual({ type: `${ERROR_TYPE_PREFIX}rate-limited`, title: 'Too Many Requests', status: 429, detail: 'slow down', retryAfter: 3, error: 'slow down' });
  });

  it('has exactly the kinds and statuses of the wire protocol', () => {
    expect(Object.fromEntries(Object.entries(ERROR_CATALOGUE).map(([kind, e]) => [kind, e.status]))).toEqual(PROBLEM_KINDS);
    expect(ERROR_TYPE_PREFIX).toBe('urn:sesame:error:');
  });
});
