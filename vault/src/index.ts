/** @sesamespace/vault — envelope encryption, masking, TOTP, lease state machine, audit chain. Pure: no I/O. */
export * from './errors.js';
export * from './keyring.js';
export * from './envelope.js';
export * from './masking.js';
export * from './totp.js';
export * from './clock.js';
export * from './lease.js';
export * from './audit.js';
