import { Type } from '@sinclair/typebox';
import { Nullable, PageQuery } from '../../../shared/http/schemas.js';
import { Email } from '../auth/schemas.js';

export const DEFAULT_INVITE_TTL_SECONDS = 7 * 24 * 3600;
const MAX_INVITE_TTL_SECONDS = 30 * 24 * 3600;

export const InviteSchema = Type.Object({
  id: Type.String(), email: Type.String(), isAdmin: Type.Boolean(), invitedBy: Nullable(Type.String()),
  expiresAt: Type.String(), createdAt: Type.String(), acceptedAt: Nullable(Type.String()), acceptedBy: Nullable(Type.String()), revokedAt: Nullable(Type.String()),
}, { $id: 'Invite' });

export const CreateInviteBody = Type.Object({
  email: Email,
  isAdmin: Type.Optional(Type.Boolean()),
  expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: MAX_INVITE_TTL_SECONDS, description: `Default ${DEFAULT_INVITE_TTL_SECONDS} (7 days)` })),
}, { additionalProperties: false });

export const ListInvitesQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
