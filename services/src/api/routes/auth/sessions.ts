import { sql } from 'kysely';
import { appendAudit } from '../../../shared/audit.js';
import { sha256 } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { Db } from '../../../shared/db/database.js';
import type { Principal } from '../../../shared/db/schema.js';
import { unauthorized } from '../../../shared/errors.js';
import type { Trx } from '../../../shared/events.js';
import { newId, randomToken } from '../../../shared/ids.js';
import { principalToWire } from '../../wire.js';

const REFRESH_TTL_MS = 30 * 24 * 3600 * 1000;
const INVALID_REFRESH = 'The refresh token is invalid, expired or already used';

/** A new login: an access token and the first refresh token of a new family. */
export async function issueSession(ctx: ServiceContext, principal: Principal) {
  const refreshToken = await storeRefreshToken(ctx.db, principal.id);
  return sessionWith(ctx, principal, refreshToken);
}

/**
 * Spends a refresh token (single use) for a new session whose refresh token joins the same
 * family. Presenting a token that was already spent means two parties hold that family's tokens
 * (a thief and their owner, and nobody can tell which is which), so every token of the family is
 * revoked: both must log in again (refresh token rotation with reuse detection, OAuth 2.0
 * Security BCP).
 */
export async function refreshSession(ctx: ServiceContext, refreshToken: string) {
  const tokenHash = sha256(refreshToken);
  const presented = await ctx.db.selectFrom('refresh_tokens').select(['family_id', 'principal_id']).where('token_hash', '=', tokenHash).executeTakeFirst();
  if (!presented) throw unauthorized(INVALID_REFRESH);
  const outcome = await ctx.db.transaction().execute(async (trx) => {
    // One rotation or reuse revocation per family at a time: a rotation racing a revocation
    // either finishes first (and its new token is revoked too) or finds its token revoked.
    await sql`SELECT pg_advisory_xact_lock(hashtext(${'refresh-family:' + presented.family_id}))`.execute(trx);
    const now = new Date();
    const spent = await trx.updateTable('refresh_tokens').set({ revoked_at: now })
      .where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).where('expires_at', '>', now)
      .returning('principal_id').executeTakeFirst();
    if (!spent) {
      const token = await trx.selectFrom('refresh_tokens').select('revoked_at').where('token_hash', '=', tokenHash).executeTakeFirst();
      if (token?.revoked_at) await revokeFamily(ctx, trx, presented.family_id, presented.principal_id);
      return null;
    }
    const principal = await trx.selectFrom('principals').selectAll().where('id', '=', spent.principal_id).where('disabled_at', 'is', null).executeTakeFirst();
    if (!principal) return null;
    return { principal, refreshToken: await storeRefreshToken(trx, principal.id, presented.family_id) };
  });
  if (!outcome) throw unauthorized(INVALID_REFRESH);
  return sessionWith(ctx, outcome.principal, outcome.refreshToken);
}

async function revokeFamily(ctx: ServiceContext, trx: Trx, familyId: string, principalId: string) {
  const revoked = await trx.updateTable('refresh_tokens').set({ revoked_at: new Date() })
    .where('family_id', '=', familyId).where('revoked_at', 'is', null).returning('id').execute();
  if (revoked.length === 0) return;
  const principal = await trx.selectFrom('principals').select('workspace_id').where('id', '=', principalId).executeTakeFirst();
  ctx.logger.warn({ principalId, familyId, revokedTokens: revoked.length }, 'refresh token reused after rotation: token family revoked');
  if (principal) {
    await appendAudit(trx, {
      workspaceId: principal.workspace_id, actorId: principalId, action: 'auth.refresh_token_reused',
      targetType: 'principal', targetId: principalId, data: { familyId, revokedTokens: revoked.length },
    });
  }
}

/**
 * Stores a new refresh token (hashed) and returns it. It joins `familyId`, or starts a family
 * named by its own id (as migration 0004 did for the tokens issued before families existed).
 */
async function storeRefreshToken(db: Db | Trx, principalId: string, familyId?: string): Promise<string> {
  const refreshToken = `rt_${randomToken(32)}`;
  const id = newId('rt');
  await db.insertInto('refresh_tokens').values({
    id, principal_id: principalId, family_id: familyId ?? id, token_hash: sha256(refreshToken),
    expires_at: new Date(Date.now() + REFRESH_TTL_MS), created_at: new Date(),
  }).execute();
  return refreshToken;
}

async function sessionWith(ctx: ServiceContext, principal: Principal, refreshToken: string) {
  const { token, expiresIn } = await ctx.tokens.issue({ principalId: principal.id, workspaceId: principal.workspace_id, kind: principal.kind });
  return { accessToken: token, refreshToken, tokenType: 'Bearer' as const, expiresIn, principal: principalToWire(principal) };
}
