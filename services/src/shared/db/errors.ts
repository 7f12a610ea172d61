import { SesameError } from '../errors.js';

/** Postgres SQLSTATE for a unique-constraint violation (the same code under PGlite). */
const UNIQUE_VIOLATION = '23505';

/** Whether `err` is a unique-constraint violation: how a lost insert race shows up. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === UNIQUE_VIOLATION;
}

/**
 * Whether the database answered `err` (an error message from the server: a SQLSTATE and a
 * severity, as pg and PGlite both report it): a statement it refused was rolled back. Anything
 * else after a statement was sent — a dropped connection — leaves unknown whether it committed.
 * The severity tells the two apart where the code cannot: a socket's `EPIPE` is five capitals too.
 */
export function isDatabaseAnswer(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code)
    && 'severity' in err && typeof err.severity === 'string';
}

/** The error for callers whose write may or may not have committed (the connection failed mid-statement). */
export function outcomeUnknown(what: string): SesameError {
  return new SesameError('service-unavailable', `The database connection failed while ${what} was being committed: it may or may not have been saved. Retry (with the same clientGeneratedId, a send is not repeated), or read it back`);
}
