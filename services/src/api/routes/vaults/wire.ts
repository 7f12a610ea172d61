import type { BrokerPolicy } from '@sesamespace/sdk/protocol';
import type { VaultItemRow, VaultMemberTable, VaultRole, VaultRow } from '../../../shared/db/schema.js';
import type { Selectable } from 'kysely';
import { iso } from '../../wire.js';

/** Vault rows → REST bodies. Never a sealed value: items carry field keys, not fields. */
export function vaultToWire(v: VaultRow, role: VaultRole | null) {
  return {
    id: v.id, name: v.name, description: v.description, maskingPolicy: v.masking_policy, maxLeaseTtlSeconds: v.max_lease_ttl_seconds,
    role, createdBy: v.created_by, createdAt: iso(v.created_at), updatedAt: iso(v.updated_at),
  };
}

export function memberToWire(m: Selectable<VaultMemberTable>) {
  return { vaultId: m.vault_id, principalId: m.principal_id, role: m.role, addedBy: m.added_by, addedAt: iso(m.added_at) };
}

export function itemToWire(i: VaultItemRow) {
  return {
    id: i.id, vaultId: i.vault_id, title: i.title, type: i.type, hostname: i.hostname, tags: i.tags, policy: i.policy satisfies BrokerPolicy,
    injection: i.injection, fieldKeys: Object.keys(i.sealed.fields).sort(), createdBy: i.created_by, createdAt: iso(i.created_at), updatedAt: iso(i.updated_at),
  };
}
