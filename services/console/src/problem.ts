import { SesameError } from '@sesamespace/sdk';

/**
 * A readable sentence for any failure: Problem Details from the server (title and detail, plus
 * which fields were wrong), the SDK's connection errors, or anything else thrown.
 */
export function describeError(error: unknown): string {
  if (error instanceof SesameError) {
    const fields = error.problem?.errors ?? [];
    const fieldText = fields.length > 0 ? ` (${fields.map((f) => `${f.path} ${f.message}`).join('; ')})` : '';
    const retry = error.retryAfter !== undefined ? ` Try again in ${error.retryAfter} s.` : '';
    return `${error.title}: ${error.detail}${fieldText}${retry}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}
