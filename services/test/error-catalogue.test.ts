import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOGUE, ERROR_TYPE_PREFIX, SesameError, type ErrorKind } from '../src/shared/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('error catalogue', () => {
  it('docs/errors.md lists exactly the catalogue, with the same status and title', () => {
    const rows = [...doc.matchAll(/^\| `urn:sesame:error:([a-z-]+)` \| (\d+) \| ([^|]+) \|/gm)].map((m) => [m[1], Number(m[2]), m[3].trim()]);
    const expected = Object.entries(ERROR_CATALOGUE).map(([kind, e]) => [kind, e.status, e.title]);
    expect(rows).toEqual(expected);
  });

  it('renders every kind as Problem Details with the urn type', () => {
    for (const kind of Object.keys(ERROR_CATALOGUE) as ErrorKind[]) {
      const problem = new SesameError(kind, 'detail text').toProblem();
      expect(problem).toEqual({ type: ERROR_TYPE_PREFIX + kind, title: ERROR_CATALOGUE[kind].title, status: ERROR_CATALOGUE[kind].status, detail: 'detail text' });
    }
  });
});
