import { Type } from '@sinclair/typebox';
import { Nullable, Text } from '../../../shared/http/schemas.js';
import { Handle, TokensSchema } from '../auth/schemas.js';

/** How long a device's claim waits for a human (RFC 8628 `expires_in`). */
export const CLAIM_TTL_SECONDS = 600;
/** Seconds between a device's polls (RFC 8628 `interval`); a faster poll answers `slow_down` and adds 5. */
export const CLAIM_POLL_INTERVAL_SECONDS = 3;
/** Pending claims one client address may hold at once, and the whole server. */
export const MAX_PENDING_CLAIMS_PER_ADDRESS = 10;
export const MAX_PENDING_CLAIMS = 1000;
/**
 * Lookups (and, separately, approvals and denials) by user code one workspace may make per
 * minute, whatever its API keys' own limits: a user code has ≈ 34.5 bits, so guessing one needs
 * millions of attempts (RFC 8628 §5.1 asks for exactly this rate limit).
 */
export const CLAIM_CODE_ATTEMPTS_PER_MINUTE = 30;

/** A vault membership given to the agent a registration token or claim approval creates. */
export const VaultGrantsSchema = Type.Array(Type.Object({
  vaultId: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_:-]+$' }),
  role: Type.Union([Type.Literal('owner'), Type.Literal('editor'), Type.Literal('viewer'), Type.Literal('requester')], { description: 'Normally requester: the agent may ask for leases' }),
}, { additionalProperties: false }), { maxItems: 20 });

/** `ABCD-EFGH`, `abcdefgh` or `ABCD EFGH`: normalised before lookup. */
export const UserCodeParams = Type.Object({ userCode: Type.String({ minLength: 8, maxLength: 12, pattern: '^[A-Za-z -]+$' }) }, { additionalProperties: false });

export const OpenClaimBody = Type.Object({
  publicKey: Text({ minLength: 32, maxLength: 128, description: 'The device\'s Ed25519 public key, base64 or hex' }),
  handle: Type.Optional(Handle),
  displayName: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
}, { additionalProperties: false });

export const ClaimStartSchema = Type.Object({
  deviceCode: Type.String({ description: 'Secret: the device polls with it, signed by its key' }),
  userCode: Type.String({ description: 'ABCD-EFGH, what the human checks in the console' }),
  verificationUri: Type.String(), verificationUriComplete: Type.String(),
  expiresIn: Type.Integer(), interval: Type.Integer(),
});

export const PollClaimBody = Type.Object({
  deviceCode: Type.String({ minLength: 20, maxLength: 100, pattern: '^[A-Za-z0-9_-]+$' }),
  signature: Text({ minLength: 64, maxLength: 200, description: 'Ed25519 signature of `sesame-claim:<deviceCode>` by the device key, base64 or hex' }),
}, { additionalProperties: false });

export const ClaimPollSchema = Type.Union([
  Type.Object({ status: Type.Union([Type.Literal('authorization_pending'), Type.Literal('slow_down')]), interval: Type.Integer() }),
  Type.Object({ status: Type.Literal('approved'), tokens: TokensSchema }),
]);

export const ClaimSchema = Type.Object({
  id: Type.String(), userCode: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied'), Type.Literal('expired')]),
  handle: Nullable(Type.String()), displayName: Nullable(Type.String()), fingerprint: Type.String(), publicKey: Type.String(),
  createdAt: Type.String(), expiresAt: Type.String(), decidedAt: Nullable(Type.String()), agentId: Nullable(Type.String()),
});

export const ApproveClaimBody = Type.Object({
  handle: Type.Optional(Handle),
  displayName: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  vaults: Type.Optional(VaultGrantsSchema),
}, { additionalProperties: false });

export const DenyClaimBody = Type.Object({
  reason: Type.Optional(Text({ minLength: 1, maxLength: 500 })),
}, { additionalProperties: false });
