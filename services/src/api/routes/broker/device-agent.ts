import type { BrokerVaultGrant } from '@sesamespace/sdk/protocol';
import { appendAudit } from '../../../shared/audit.js';
import type { Db } from '../../../shared/db/database.js';
import type { Principal } from '../../../shared/db/schema.js';
import { SesameError, unprocessable } from '../../../shared/errors.js';
import type { Trx } from '../../../shared/events.js';
import { newId, randomToken } from '../../../shared/ids.js';
import { assertMayManageVault, type VaultActor } from '../vaults/service.js';

/**
 * Checks vault grants when a registration token or a claim approval is made: each vault listed
 * once, and the actor allowed to add its members (vault owner or workspace admin; 404 a vault it
 * cannot see, 403 otherwise), as `POST /vaults/:id/members` would answer.
 */
export async function assertMayGrantVaults(db: Db | Trx, actor: VaultActor, grants: readonly BrokerVaultGrant[]): Promise<void> {
  const seen = new Set<string>();
  for (const grant of grants) {
    if (seen.has(grant.vaultId)) throw unprocessable(`vaults: ${grant.vaultId} is listed twice`);
    seen.add(grant.vaultId);
    await assertMayManageVault(db, actor, grant.vaultId);
  }
}

export interface NewDeviceAgent {
  workspaceId: string;
  /** Null: a generated `agent-…` handle. */
  handle: string | null;
  displayName?: string | null;
  publicKey: string;
  vaults: readonly BrokerVaultGrant[];
  /** Who made the token or approved the claim: the actor of the vault grants. */
  grantedBy: string | null;
  /** Audit data naming how the agent came (`{registrationTokenId}` or `{claimId}`). */
  via: Record<string, string>;
}

/**
 * The grants whose granter may still make them now: a registration token lives up to 30 days,
 * and a granter demoted, removed from the vault's owners, disabled or deleted since it was made
 * must not add members through it (the rule is checked again, as `POST /vaults/:id/members`
 * would check it today). A vault deleted since is skipped too.
 */
async function stillGrantable(trx: Trx, input: NewDeviceAgent): Promise<BrokerVaultGrant[]> {
  if (input.vaults.length === 0 || !input.grantedBy) return [];
  const granter = await trx.selectFrom('principals').select(['id', 'is_admin']).where('id', '=', input.grantedBy)
    .where('workspace_id', '=', input.workspaceId).where('disabled_at', 'is', null).executeTakeFirst();
  if (!granter) return [];
  const actor: VaultActor = { id: granter.id, workspaceId: input.workspaceId, isAdmin: granter.is_admin };
  const grantable: BrokerVaultGrant[] = [];
  for (const grant of input.vaults) {
    try {
      await assertMayManageVault(trx, actor, grant.vaultId);
      grantable.push(grant);
    } catch (err) {
      if (!(err instanceof SesameError)) throw err;
    }
  }
  return grantable;
}

/**
 * Creates the agent a device registers, with its Ed25519 key and its vault grants, inside the
 * caller's transaction (Mode A: a registration token; Mode B: an approved claim). A grant its
 * granter may no longer make (`stillGrantable`) is skipped. A taken handle is a unique violation the
 * caller turns into 409, rolling the whole registration back.
 */
export async function createDeviceAgent(trx: Trx, input: NewDeviceAgent): Promise<Principal> {
  const now = new Date();
  const handle = input.handle ?? `agent-${randomToken(4).toLowerCase().replace(/[^a-z0-9]/g, '0')}`;
  const agent = await trx.insertInto('principals').values({
    id: newId('pr'), workspace_id: input.workspaceId, kind: 'agent', handle, display_name: input.displayName ?? handle,
    email: null, password_hash: null, public_key: input.publicKey.trim(), is_admin: false, created_at: now,
  }).returningAll().executeTakeFirstOrThrow();
  const granted: BrokerVaultGrant[] = [];
  for (const grant of await stillGrantable(trx, input)) {
    await trx.insertInto('vault_members').values({ vault_id: grant.vaultId, principal_id: agent.id, role: grant.role, added_by: input.grantedBy, added_at: now }).execute();
    await appendAudit(trx, {
      workspaceId: input.workspaceId, actorId: input.grantedBy, action: 'vault.member_added', targetType: 'vault', targetId: grant.vaultId,
      data: { principalId: agent.id, role: grant.role, ...input.via },
    });
    granted.push(grant);
  }
  await appendAudit(trx, {
    workspaceId: input.workspaceId, actorId: agent.id, action: 'broker.agent_registered', targetType: 'principal', targetId: agent.id,
    data: { handle: agent.handle, ...input.via, vaults: granted.map((g) => ({ vaultId: g.vaultId, role: g.role })) },
  });
  return agent;
}
