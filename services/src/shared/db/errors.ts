/** Postgres SQLSTATE for a unique-constraint violation (the same code under PGlite). */
const UNIQUE_VIOLATION = '23505';

/** Whether `err` is a unique-constraint violation: how a lost insert race shows up. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === UNIQUE_VIOLATION;
}
