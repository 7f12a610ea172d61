import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { unprocessable } from '../../../shared/errors.js';
import { Id, Nullable, STORABLE_CHAR, SafeInteger, Text } from '../../../shared/http/schemas.js';
import type { BrokerPolicy, SecretInjection } from '@sesamespace/sdk/protocol';

const VAULT_ROLES = ['owner', 'editor', 'viewer', 'requester'] as const;
const VAULT_ITEM_TYPES = ['login', 'api_key', 'secure_note', 'totp', 'database', 'ssh_key', 'custom'] as const;
const LEASE_STATUSES = ['pending', 'approved', 'denied', 'active', 'expired', 'revoked'] as const;

/** A vault's max lease TTL when created without one (1 hour), and the ceiling any vault may set (24 hours). */
export const DEFAULT_MAX_LEASE_TTL_SECONDS = 3600;
const MAX_LEASE_TTL_CEILING_SECONDS = 24 * 3600;
/** A lease asked for without a TTL gets min(15 minutes, the vault's max). */
export const DEFAULT_LEASE_TTL_SECONDS = 15 * 60;
/** How long a lease request waits for a decision before the worker expires it. */
export const PENDING_LEASE_TIMEOUT_SECONDS = 24 * 3600;

const literals = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const VaultRoleSchema = literals(VAULT_ROLES);
const VaultItemTypeSchema = literals(VAULT_ITEM_TYPES);
const LeaseStatusSchema = literals(LEASE_STATUSES);

const Method = Type.String({ minLength: 1, maxLength: 16, pattern: '^[A-Za-z]+$' });
const PathGlob = Type.String({ minLength: 1, maxLength: 500, pattern: `^/${STORABLE_CHAR}*$` });
const Subdomain = Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9*.-]+$' });
const list = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Optional(Type.Array(item, { maxItems: 100 }));

/**
 * The credential broker's policy for an item (the broker CLI's policy JSON, keys as it spells
 * them): `{}` is full access; `path_rules` take precedence over the other keys. Unknown keys are
 * refused with 422 when the item is saved (`parseBrokerPolicy`).
 */
export const BrokerPolicySchema = Type.Object({
  allowed_methods: list(Method),
  allowed_paths: list(PathGlob),
  denied_paths: list(PathGlob),
  allowed_subdomains: list(Subdomain),
  path_rules: list(Type.Object({ path: PathGlob, methods: Type.Array(Method, { maxItems: 20 }) }, { additionalProperties: false })),
}, { additionalProperties: false, $id: 'BrokerPolicy' });

/** How the broker attaches the secret: `Authorization: Bearer`, Basic, a named header or a query parameter. */
const SecretInjectionSchema = Type.Object({
  mode: Type.Union([Type.Literal('bearer'), Type.Literal('basic'), Type.Literal('header'), Type.Literal('query')]),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' })),
}, { additionalProperties: false, $id: 'SecretInjection' });


/** Validates a broker policy from a request: 422 naming the first problem (an unknown key, a bad method…). */
export function parseBrokerPolicy(input: unknown): BrokerPolicy {
  if (Value.Check(BrokerPolicySchema, input)) return input;
  const first = Value.Errors(BrokerPolicySchema, input).First();
  const where = first?.path ? `policy${first.path.replaceAll('/', '.')}` : 'policy';
  const unknownKey = input && typeof input === 'object' && !Array.isArray(input)
    ? Object.keys(input).find((k) => !Object.hasOwn(BrokerPolicySchema.properties, k)) : undefined;
  throw unprocessable(unknownKey !== undefined ? `policy: unknown key "${unknownKey.slice(0, 100)}" (allowed: ${Object.keys(BrokerPolicySchema.properties).join(', ')})` : `${where}: ${first?.message ?? 'is invalid'}`);
}

/** Validates an injection; `header` and `query` need a `name`. Default for api_key items: bearer. */
export function parseInjection(input: unknown, itemType: string): SecretInjection | null {
  if (input === undefined || input === null) return itemType === 'api_key' ? { mode: 'bearer' } : null;
  if (!Value.Check(SecretInjectionSchema, input)) {
    const first = Value.Errors(SecretInjectionSchema, input).First();
    throw unprocessable(`injection${first?.path.replaceAll('/', '.') ?? ''}: ${first?.message ?? 'is invalid'}`);
  }
  if ((input.mode === 'header' || input.mode === 'query') && !input.name) throw unprocessable(`injection.name: required for mode "${input.mode}"`);
  return input;
}

const Hostname = Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$' });
const Tag = Text({ minLength: 1, maxLength: 100 });
const FieldName = Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.-]+$' });
const FieldValue = Text({ maxLength: 64 * 1024 });
const Fields = Type.Record(FieldName, FieldValue, { maxProperties: 100 });

const MaskingPolicySchema = Type.Object({
  alwaysMask: Type.Array(FieldName, { maxItems: 200 }), neverMask: Type.Array(FieldName, { maxItems: 200 }),
}, { additionalProperties: false, $id: 'VaultMaskingPolicy' });

export const VaultSchema = Type.Object({
  id: Type.String(), name: Type.String(), description: Nullable(Type.String()), maskingPolicy: MaskingPolicySchema,
  maxLeaseTtlSeconds: Type.Integer(), role: Nullable(VaultRoleSchema), createdBy: Nullable(Type.String()), createdAt: Type.String(), updatedAt: Type.String(),
}, { $id: 'Vault' });

export const VaultMemberSchema = Type.Object({
  vaultId: Type.String(), principalId: Type.String(), role: VaultRoleSchema, addedBy: Nullable(Type.String()), addedAt: Type.String(),
}, { $id: 'VaultMember' });

export const VaultItemSchema = Type.Object({
  id: Type.String(), vaultId: Type.String(), title: Type.String(), type: VaultItemTypeSchema, hostname: Nullable(Type.String()),
  tags: Type.Array(Type.String()), policy: BrokerPolicySchema, injection: Nullable(SecretInjectionSchema), fieldKeys: Type.Array(Type.String()),
  createdBy: Nullable(Type.String()), createdAt: Type.String(), updatedAt: Type.String(),
}, { $id: 'VaultItem' });

export const VaultLeaseSchema = Type.Object({
  id: Type.String(), vaultId: Type.String(), itemId: Type.String(), requesterId: Type.String(), reason: Type.String(), hostname: Nullable(Type.String()),
  status: LeaseStatusSchema, ttlSeconds: Type.Integer(), maxTtlSeconds: Type.Integer(), usesCount: Type.Integer(),
  requestedAt: Type.String(), pendingExpiresAt: Type.String(), decidedAt: Nullable(Type.String()), decidedBy: Nullable(Type.String()),
  decisionNote: Nullable(Type.String()), activatedAt: Nullable(Type.String()), expiresAt: Nullable(Type.String()), lastUsedAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()), revokedBy: Nullable(Type.String()), endedAt: Nullable(Type.String()),
}, { $id: 'VaultLease' });

const TtlSeconds = SafeInteger({ minimum: 1, maximum: MAX_LEASE_TTL_CEILING_SECONDS });

export const CreateVaultBody = Type.Object({
  name: Text({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Text({ maxLength: 2000 })),
  maxLeaseTtlSeconds: Type.Optional(TtlSeconds),
}, { additionalProperties: false });

export const UpdateMaskingPolicyBody = Type.Object({
  alwaysMask: Type.Optional(Type.Array(FieldName, { maxItems: 200 })),
  neverMask: Type.Optional(Type.Array(FieldName, { maxItems: 200 })),
}, { additionalProperties: false });

export const AddMemberBody = Type.Object({ principalId: Id, role: VaultRoleSchema }, { additionalProperties: false });

export const VaultIdParams = Type.Object({ vaultId: Id }, { additionalProperties: false });
export const MemberParams = Type.Object({ vaultId: Id, principalId: Id }, { additionalProperties: false });
export const ItemIdParams = Type.Object({ itemId: Id }, { additionalProperties: false });
export const LeaseIdParams = Type.Object({ leaseId: Id }, { additionalProperties: false });

export const ListItemsQuery = Type.Object({
  q: Type.Optional(Text({ maxLength: 200 })), type: Type.Optional(VaultItemTypeSchema),
}, { additionalProperties: false });

// `policy` and `injection` are free JSON here and checked by parseBrokerPolicy / parseInjection,
// so an unknown policy key is a 422 (the broker CLI's contract), not a schema 400.
export const CreateItemBody = Type.Object({
  title: Text({ minLength: 1, maxLength: 200 }),
  type: VaultItemTypeSchema,
  fields: Fields,
  hostname: Type.Optional(Nullable(Hostname)),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
  policy: Type.Optional(Type.Unknown()),
  injection: Type.Optional(Type.Unknown()),
}, { additionalProperties: false });

export const UpdateItemBody = Type.Object({
  title: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
  fields: Type.Optional(Fields),
  removeFields: Type.Optional(Type.Array(FieldName, { maxItems: 100 })),
  hostname: Type.Optional(Nullable(Hostname)),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
  policy: Type.Optional(Type.Unknown()),
  injection: Type.Optional(Type.Unknown()),
}, { additionalProperties: false });

export const RevealBody = Type.Object({ fields: Type.Optional(Type.Array(FieldName, { maxItems: 100 })) }, { additionalProperties: false });

export const RequestLeaseBody = Type.Object({
  itemId: Id,
  reason: Text({ minLength: 1, maxLength: 1000 }),
  ttlSeconds: Type.Optional(TtlSeconds),
  hostname: Type.Optional(Hostname),
}, { additionalProperties: false });

export const ListLeasesQuery = Type.Object({ status: Type.Optional(LeaseStatusSchema), vaultId: Type.Optional(Id) }, { additionalProperties: false });
export const ApproveLeaseBody = Type.Object({ ttlSeconds: Type.Optional(TtlSeconds) }, { additionalProperties: false });
export const DenyLeaseBody = Type.Object({ reason: Type.Optional(Text({ maxLength: 1000 })) }, { additionalProperties: false });
export const RenewLeaseBody = Type.Object({ ttlSeconds: TtlSeconds }, { additionalProperties: false });

export const FieldValues = Type.Record(Type.String(), Type.String());
