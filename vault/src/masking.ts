import { VaultError } from './errors.js';

/** Per-vault masking policy over field keys. `alwaysMask` beats everything; `neverMask` beats the defaults. */
export interface MaskingPolicy { alwaysMask: string[]; neverMask: string[] }

/** Field keys containing one of these (case- and separator-insensitive) are masked by default. */
export const DEFAULT_SENSITIVE = ['password', 'passwd', 'secret', 'token', 'key', 'totp', 'otp', 'pin', 'private', 'credential', 'cvv', 'cvc', 'ssn'] as const;

export const EMPTY_POLICY: MaskingPolicy = Object.freeze({ alwaysMask: [], neverMask: [] });

const normalize = (key: string) => key.toLowerCase().replace(/[^a-z0-9]/g, '');

export function validateMaskingPolicy(input: unknown): MaskingPolicy {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new VaultError('invalid_policy', 'a masking policy is an object {alwaysMask, neverMask}');
  const unknownKey = Object.keys(input).find((k) => k !== 'alwaysMask' && k !== 'neverMask');
  if (unknownKey) throw new VaultError('invalid_policy', `unknown masking policy key "${unknownKey}"`);
  const list = (name: 'alwaysMask' | 'neverMask'): string[] => {
    const value = (input as Record<string, unknown>)[name] ?? [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0 || v.length > 100)) {
      throw new VaultError('invalid_policy', `${name} must be an array of non-empty field keys (at most 100 characters)`);
    }
    if (value.length > 200) throw new VaultError('invalid_policy', `${name} lists more than 200 keys`);
    return [...new Set(value as string[])];
  };
  return { alwaysMask: list('alwaysMask'), neverMask: list('neverMask') };
}

export function isMasked(fieldKey: string, policy: MaskingPolicy = EMPTY_POLICY): boolean {
  const key = normalize(fieldKey);
  if (policy.alwaysMask.some((k) => normalize(k) === key)) return true;
  if (policy.neverMask.some((k) => normalize(k) === key)) return false;
  return DEFAULT_SENSITIVE.some((word) => key.includes(word));
}

// Only long values show their tail: revealing 4 of ≥12 characters leaves ≥8 unknown.
const HINT_MIN_LENGTH = 12;
const HINT_TAIL = 4;
const MASK = '••••';

/** The hint shown for a masked value: the last 4 characters of long values, nothing of short ones. */
export function maskValue(value: string): string {
  // Code points, not UTF-16 units, so a tail never splits a surrogate pair.
  const chars = Array.from(value);
  return chars.length >= HINT_MIN_LENGTH ? `${MASK}${chars.slice(-HINT_TAIL).join('')}` : MASK;
}

/** `fieldKeys` and `fieldHints` as getVaultItem returns them: masked fields hinted, others shown. */
export function describeFields(fields: Record<string, string>, policy: MaskingPolicy = EMPTY_POLICY): { fieldKeys: string[]; fieldHints: Record<string, string>; masked: string[] } {
  const fieldKeys = Object.keys(fields).sort();
  const fieldHints = Object.create(null) as Record<string, string>;
  const masked: string[] = [];
  for (const key of fieldKeys) {
    if (isMasked(key, policy)) { fieldHints[key] = maskValue(fields[key]); masked.push(key); } else fieldHints[key] = fields[key];
  }
  return { fieldKeys, fieldHints, masked };
}
