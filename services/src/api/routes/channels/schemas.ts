import { Type } from '@sinclair/typebox';
import { Id, Nullable, PageQuery, Text } from '../../../shared/http/schemas.js';

const ChannelKind = Type.Union([
  Type.Literal('dm'), Type.Literal('group'), Type.Literal('channel'), Type.Literal('collaboration'), Type.Literal('task'),
]);
const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);

export const ChannelSchema = Type.Object({
  id: Type.String(), workspaceId: Type.String(), kind: Type.String(), name: Nullable(Type.String()), description: Nullable(Type.String()),
  context: Nullable(Type.String()), createdBy: Type.String(), createdAt: Type.String(), memberIds: Type.Array(Type.String()), headSeq: Type.Integer(),
}, { $id: 'Channel' });

export const MemberSchema = Type.Object({
  principalId: Type.String(), role: Type.String(), joinedAt: Type.String(), handle: Type.String(), displayName: Type.String(), kind: Type.String(),
}, { $id: 'Member' });

export const CreateChannelBody = Type.Object({
  kind: ChannelKind,
  name: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  description: Type.Optional(Text({ maxLength: 2000 })),
  context: Type.Optional(Text({ maxLength: 20_000 })),
  memberIds: Type.Array(Id, { maxItems: 1000, uniqueItems: true }),
}, { additionalProperties: false });

export const UpdateChannelBody = Type.Object({
  name: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  description: Type.Optional(Nullable(Text({ maxLength: 2000 }))),
  context: Type.Optional(Nullable(Text({ maxLength: 20_000 }))),
}, { additionalProperties: false, minProperties: 1 });

export const AddMemberBody = Type.Object({ principalId: Id, role: Type.Optional(Role) }, { additionalProperties: false });
export const MemberParams = Type.Object({ id: Id, principalId: Id }, { additionalProperties: false });
export const ListChannelsQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
