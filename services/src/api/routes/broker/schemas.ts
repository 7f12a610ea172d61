import { Type } from '@sinclair/typebox';
import { Text } from '../../../shared/http/schemas.js';
import { Handle } from '../auth/schemas.js';

export const REGISTRATION_TOKEN_PREFIX = 'sesame-register:';
export const DEFAULT_REGISTRATION_TTL_SECONDS = 24 * 3600;
const MAX_REGISTRATION_TTL_SECONDS = 30 * 24 * 3600;

export const CreateRegistrationTokenBody = Type.Object({
  handle: Type.Optional(Handle),
  ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_REGISTRATION_TTL_SECONDS, description: `Default ${DEFAULT_REGISTRATION_TTL_SECONDS} (one day)` })),
}, { additionalProperties: false });

export const RegistrationTokenSchema = Type.Object({
  id: Type.String(),
  token: Type.String({ description: 'sesame-register:…, shown once; single use' }),
  handle: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.String(),
});

export const RegisterBody = Type.Object({
  token: Text({ minLength: 1, maxLength: 200, description: 'sesame-register:… (the prefix may be left out)' }),
  publicKey: Text({ minLength: 32, maxLength: 128, description: 'The device\'s Ed25519 public key, base64 or hex' }),
  handle: Type.Optional(Handle),
  displayName: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
}, { additionalProperties: false });
