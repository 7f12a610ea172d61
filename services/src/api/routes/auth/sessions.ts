import type { ServiceContext } from '../../../shared/context.js';
import type { Principal } from '../../../shared/db/schema.js';
import { newId, randomToken } from '../../../shared/ids.js';
import { sha256 } from '../../../shared/auth/secrets.js';
import { principalToWire } from '../../wire.js';

const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;

/** Issues an access token and a (stored hashed, single-use) refresh token. */
export async function issueSession(ctx: ServiceContext, principal: Principal) {
  const { token, expiresIn } = await ctx.tokens.issue({ principalId: principal.id, workspaceId: principal.workspace_id, kind: principal.kind });
  const refreshToken = `rt_${randomToken(32)}`;
  await ctx.db.insertInto('refresh_tokens').values({
    id: newId('rt'), principal_id: principal.id, token_hash: sha256(refreshToken), expires_at: new Date(Date.now() + REFRESH_TTL_MS), created_at: new Date(),
  }).execute();
  return { accessToken: token, refreshToken, tokenType: 'Bearer' as const, expiresIn, principal: principalToWire(principal) };
}
