/**
 * Every failure the vault core reports. Messages name what went wrong and never include key
 * material, plaintext or ciphertext.
 */
export type VaultErrorCode =
  | 'decrypt_failed'
  | 'unknown_key_version'
  | 'invalid_key'
  | 'invalid_ciphertext'
  | 'invalid_policy'
  | 'invalid_totp'
  | 'illegal_transition'
  | 'self_approval'
  | 'lease_expired'
  | 'lease_exhausted'
  | 'lease_revoked'
  | 'lease_not_active'
  | 'invalid_lease';

export class VaultError extends Error {
  constructor(readonly code: VaultErrorCode, message: string) {
    super(message);
    this.name = 'VaultError';
  }
}

export class IllegalTransitionError extends VaultError {
  constructor(readonly from: string, readonly to: string) {
    super('illegal_transition', `a lease cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransitionError';
  }
}
