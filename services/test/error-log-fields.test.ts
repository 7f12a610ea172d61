import { PGlite } from '@electric-sql/pglite';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/shared/logger.js';

function captureLines() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) { lines.push(...chunk.toString().trim().split('\n')); done(); },
  });
  return { lines, logger: createLogger('info', 'test', sink) };
}

/**
 * A failed statement's error can carry its input: PGlite puts the statement and its parameters
 * on the error, Postgres' detail and context quote values. None of it reaches a log line.
 */
describe('logged errors', () => {
  it('keep a database error\'s SQLSTATE and message, never the statement, its parameters, detail or context', async () => {
    const db = new PGlite();
    const err = await db.query('SELECT $1::jsonb', ['{"content": "top-secret-content" oops}']).catch((error: unknown) => error);
    await db.close();
    expect(err).toBeInstanceOf(Error);
    // The raw error does carry the input (what this guards against).
    expect(JSON.stringify(err)).toContain('top-secret-content');

    const { lines, logger } = captureLines();
    logger.error({ err }, 'statement failed');
    logger.error({ err: Object.assign(new Error('duplicate key'), { code: '23505', detail: 'Key (hash)=(top-secret-hash) already exists.', where: 'x', constraint: 'api_keys_hash_key' }) }, 'insert failed');
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain('top-secret');
      const logged = (JSON.parse(line) as { err: { message: string; code?: string } }).err;
      expect(logged.message.length).toBeGreaterThan(0);
      expect(logged.code).toMatch(/^[0-9A-Z]{5}$/);
    }
    expect(lines[1]).toContain('api_keys_hash_key');
  });

  it('leaves a logged value that is not an error as it is', () => {
    const { logger } = captureLines();
    const value = { detail: 'kept', params: [1] };
    logger.warn({ err: value }, 'odd');
    expect(value).toEqual({ detail: 'kept', params: [1] });
  });
});
