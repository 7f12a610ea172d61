/**
 * REST bodies and event payloads of the vault (`/api/v1/vaults…`). Items carry field keys and
 * masked hints; values travel only in the answers of `revealItem`, `useSecret` and the broker.
 */
export type VaultRole = 'owner' | 'editor' | 'viewer' | 'requester';
export type VaultItemType = 'login' | 'api_key' | 'secure_note' | 'totp' | 'database' | 'ssh_key' | 'custom';
/** `pending` → `approved | denied`; `approved` → `active` (first use) → `expired | revoked`. */
export type LeaseStatus = 'pending' | 'approved' | 'denied' | 'active' | 'expired' | 'revoked';

/** Field keys masked (`alwaysMask`) or shown (`neverMask`) beyond the default sensitive names. */
export interface VaultMaskingPolicy { alwaysMask: string[]; neverMask: string[] }

export interface Vault {
  id: string; name: string; description: string | null; maskingPolicy: VaultMaskingPolicy;
  /** The longest a lease of this vault may run, counted from approval or renewal (seconds). */
  maxLeaseTtlSeconds: number;
  /** The caller's role (`owner` for a workspace admin). */
  role: VaultRole | null;
  createdBy: string | null; createdAt: string; updatedAt: string;
}

export interface VaultMember { vaultId: string; principalId: string; role: VaultRole; addedBy: string | null; addedAt: string }

/** What the credential broker may do with an item's secret; `{}` is full access. */
export interface BrokerPolicy {
  allowed_methods?: string[];
  allowed_paths?: string[];
  denied_paths?: string[];
  allowed_subdomains?: string[];
  path_rules?: { path: string; methods: string[] }[];
}
/** How the broker attaches the secret: bearer (default for api_key), basic, a named header or query parameter. */
export interface SecretInjection { mode: 'bearer' | 'basic' | 'header' | 'query'; name?: string }

export interface VaultItem {
  id: string; vaultId: string; title: string; type: VaultItemType; hostname: string | null; tags: string[];
  policy: BrokerPolicy; injection: SecretInjection | null;
  /** The names of the item's fields (never their values). */
  fieldKeys: string[];
  createdBy: string | null; createdAt: string; updatedAt: string;
}

export interface VaultItemDetails {
  item: VaultItem;
  fieldKeys: string[];
  /** Masked fields as `••••` plus the last 4 characters of long values; others in clear. */
  fieldHints: Record<string, string>;
}

export interface VaultLease {
  id: string; vaultId: string; itemId: string; requesterId: string; reason: string;
  /** The host a broker lease was asked for. */
  hostname: string | null;
  status: LeaseStatus;
  ttlSeconds: number; maxTtlSeconds: number; usesCount: number;
  requestedAt: string;
  /** A pending request lapses (expires) at this time. */
  pendingExpiresAt: string;
  decidedAt: string | null; decidedBy: string | null; decisionNote: string | null;
  activatedAt: string | null;
  /** The lease stops working at this time (checked by the server at every use). */
  expiresAt: string | null;
  lastUsedAt: string | null; revokedAt: string | null; revokedBy: string | null; endedAt: string | null;
}

export interface TotpCode { code: string; expiresIn: number; period: number }

export interface CreateVaultInput { name: string; description?: string; maxLeaseTtlSeconds?: number }
export interface CreateVaultItemInput {
  title: string; type: VaultItemType; fields: Record<string, string>; hostname?: string | null; tags?: string[];
  policy?: BrokerPolicy; injection?: SecretInjection;
}
export interface UpdateVaultItemInput {
  title?: string;
  /** Fields to add or replace; others are kept. */
  fields?: Record<string, string>;
  removeFields?: string[];
  hostname?: string | null; tags?: string[]; policy?: BrokerPolicy; injection?: SecretInjection;
}
export interface RequestLeaseInput {
  itemId: string; reason: string;
  /** Default min(15 minutes, the vault's max). */
  ttlSeconds?: number;
  hostname?: string;
}

/** `vault.lease_request`, on each approver's inbox stream. */
export interface LeaseRequestData {
  lease: VaultLease;
  item: { id: string; title: string; type: VaultItemType; hostname: string | null };
  vault: { id: string; name: string };
  requester: { id: string; handle: string; displayName: string; kind: 'human' | 'agent' };
}
/** `vault.lease_updated`, on the requester's inbox stream: the lease after each change. */
export interface LeaseUpdatedData { lease: VaultLease }
