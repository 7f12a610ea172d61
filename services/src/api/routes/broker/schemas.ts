import { Type } from '@sinclair/typebox';
import { Text } from '../../../shared/http/schemas.js';
import { Handle } from '../auth/schemas.js';
import { VaultGrantsSchema } from './claim-schemas.js';

export const REGISTRATION_TOKEN_PREFIX = 'sesame-register:';
export const DEFAULT_REGISTRATION_TTL_SECONDS = 24 * 3600;
const MAX_REGISTRATION_TTL_SECONDS = 30 * 24 * 3600;

export const CreateRegistrationTokenBody = Type.Object({
  handle: Type.Optional(Handle),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_REGISTRATION_TTL_SECONDS, description: `Default ${DEFAULT_REGISTRATION_TTL_SECONDS} (one day)` })),
  vaults: Type.Optional(VaultGrantsSchema),
}, { additionalProperties: false });

export const RegistrationTokenSchema = Type.Object({
  id: Type.String(),
  token: Type.String({ description: 'sesame-register:…, shown once; single use' }),
  handle: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String(),
  vaults: VaultGrantsSchema,
});

export const RegisterBody = Type.Object({
  token: Text({ minLength: 1, maxLength: 200, description: 'sesame-register:… (the prefix may be left out)' }),
  publicKey: Text({ minLength: 32, maxLength: 128, description: 'The device\'s Ed25519 public key, base64 or hex' }),
  handle: Type.Optional(Handle),
  displayName: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
}, { additionalProperties: false });

const HeaderValue = Text({ maxLength: 8192 });

export const BrokerRequestBody = Type.Object({
  method: Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z]+$' }),
  url: Text({ minLength: 1, maxLength: 8192, description: 'Full URL, http(s)://host/path?query' }),
  headers: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 200, pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' }), HeaderValue, { maxProperties: 100 })),
  body: Type.Optional(Text({ maxLength: 1024 * 1024 })),
  waitForApproval: Type.Optional(Type.Boolean({ description: 'Default true: wait (up to SESAME_BROKER_APPROVAL_WAIT_SECONDS) for a human to approve the first use of a hostname; false answers 202 {approval: "pending"} at once' })),
}, { additionalProperties: false });

export const BrokerResponseSchema = Type.Object({
  status_code: Type.Integer(),
  headers: Type.Record(Type.String(), Type.String()),
  body: Type.String(),
  truncated: Type.Boolean(),
});

export const BrokerApprovalPendingSchema = Type.Object({
  approval: Type.Literal('pending'), hostname: Type.String(), leaseId: Type.String(),
});

export const BrokerHostnameSchema = Type.Object({
  hostname: Type.String(), itemId: Type.String(), itemName: Type.String(), vaultId: Type.String(), injection: Type.String(), approved: Type.Boolean(),
});
