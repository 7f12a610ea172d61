import { Type } from '@sinclair/typebox';
import { Id, Nullable, Text } from '../../../shared/http/schemas.js';

export const Handle = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'lowercase letters, digits, `.`, `_`, `-`' });
export const Email = Type.String({ format: 'email', maxLength: 254 });
export const Password = Text({ minLength: 8, maxLength: 256 });

export const PrincipalSchema = Type.Object({
  id: Type.String(), handle: Type.String(), displayName: Type.String(), kind: Type.Union([Type.Literal('human'), Type.Literal('agent')]),
  workspaceId: Type.String(), isAdmin: Type.Boolean(), publicKey: Nullable(Type.String()), createdAt: Type.String(),
}, { $id: 'Principal' });

export const TokensSchema = Type.Object({
  accessToken: Type.String(), refreshToken: Type.String(), tokenType: Type.Literal('Bearer'), expiresIn: Type.Integer(), principal: PrincipalSchema,
});

export const ChallengeBody = Type.Object({ handle: Handle, workspaceId: Type.Optional(Id) }, { additionalProperties: false });
export const VerifyBody = Type.Object({
  handle: Handle, nonce: Text({ minLength: 1, maxLength: 200 }), signature: Text({ minLength: 1, maxLength: 200 }), workspaceId: Type.Optional(Id),
}, { additionalProperties: false });
export const RefreshBody = Type.Object({ refreshToken: Text({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });
export const SignupBody = Type.Object({
  email: Email, password: Password, displayName: Text({ minLength: 1, maxLength: 100 }),
  handle: Type.Optional(Handle), workspaceName: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
}, { additionalProperties: false });
export const LoginBody = Type.Object({
  email: Email, password: Text({ minLength: 1, maxLength: 256 }),
  workspaceId: Type.Optional(Id),
}, { additionalProperties: false });
export const AcceptInviteBody = Type.Object({
  token: Text({ minLength: 1, maxLength: 200 }), password: Password, displayName: Text({ minLength: 1, maxLength: 100 }),
  handle: Type.Optional(Handle),
}, { additionalProperties: false });
