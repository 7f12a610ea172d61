import type { Db } from '../db/database.js';
import type { Principal } from '../db/schema.js';
import { badRequest } from '../errors.js';
import { challengeMessage, verifySignature } from './ed25519.js';

/** The one principal with this handle; `workspaceId` disambiguates when several workspaces use it. */
export async function findPrincipalByHandle(db: Db, handle: string, workspaceId?: string): Promise<Principal | undefined> {
  let query = db.selectFrom('principals').selectAll().where('handle', '=', handle).where('disabled_at', 'is', null);
  if (workspaceId) query = query.where('workspace_id', '=', workspaceId);
  const rows = await query.limit(2).execute();
  if (rows.length > 1) throw badRequest('workspaceId: several workspaces have this handle; pass workspaceId');
  return rows[0];
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
