import { expect } from 'vitest';
import { SesameError } from '../../src/shared/errors.js';

/** Every caller was answered 503 outcome-unknown (`service-unavailable`): the batch's connection failed after it was sent. */
export function expectOutcomeUnknown(results: ReadonlyArray<PromiseSettledResult<unknown>>): void {
  for (const result of results) {
    expect(result.status).toBe('rejected');
    const reason = (result as PromiseRejectedResult).reason as SesameError;
    expect(reason).toBeInstanceOf(SesameError);
    expect(reason.kind).toBe('service-unavailable');
  }
}
