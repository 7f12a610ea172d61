import type { Db } from '../db/database.js';
import type { Principal } from '../db/schema.js';
import { challengeMessage, verifySignature } from './ed25519.js';

/**
 * The one principal that can sign in with this handle (enabled, with a public key), or undefined.
 * Handles are unique per workspace only, so `workspaceId` picks the workspace. A bare handle
 * that several workspaces use resolves to nobody, exactly as an unknown handle does: saying
 * "ambiguous" would tell anyone which handles other workspaces hold.
 */
export async function findPrincipalByHandle(db: Db, handle: string, workspaceId?: string): Promise<Principal | undefined> {
  let query = db.selectFrom('principals').selectAll().where('handle', '=', handle).where('disabled_at', 'is', null).where('public_key', 'is not', null);
  if (workspaceId) query = query.where('workspace_id', '=', workspaceId);
  const rows = await query.limit(2).execute();
  return rows.length === 1 ? rows[0] : undefined;
}

/**
 * Spends a challenge nonce and checks the agent's signature over it. The nonce is consumed
 * atomically (single use even under concurrent verifies) before the signature is checked, so
 * a wrong signature burns it too. Shared by `POST /auth/verify` and the gateway's `auth` frame.
 */
export async function consumeSignedChallenge(db: Db, agent: Principal, handle: string, nonce: string, signature: string): Promise<boolean> {
  if (!agent.public_key) return false;
  const consumed = await db.updateTable('auth_challenges').set({ used_at: new Date() })
    .where('nonce', '=', nonce).where('principal_id', '=', agent.id).where('used_at', 'is', null).where('expires_at', '>', new Date())
    .returning('nonce').executeTakeFirst();
  return Boolean(consumed) && verifySignature(agent.public_key, challengeMessage(handle, nonce), signature);
}
