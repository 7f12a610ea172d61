import type { Db } from '../db/database.js';
import type { Principal } from '../db/schema.js';
import { sha256 } from './secrets.js';
import type { TokenService } from './tokens.js';

export interface AuthContext {
  principal: Principal;
  /** Present when the caller used an API key. */
  apiKey?: { id: string; scopes: string[]; rateLimitPerMinute: number | null };
  via: 'api-key' | 'token';
}

/** Extracts the credential from `X-API-Key` or `Authorization: Bearer`. */
export function credentialFromHeaders(headers: Record<string, string | string[] | undefined>): string | null {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim()) return apiKey.trim();
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1].trim();
  }
  return null;
}

// last_used_at is informational; writing it on every request would make each call a write.
const LAST_USED_RESOLUTION_MS = 60_000;

/** Resolves an `sk_` key or an access token to its principal, or null. Shared by api and gateway. */
export async function authenticateCredential(db: Db, tokens: TokenService, credential: string): Promise<AuthContext | null> {
  if (credential.startsWith('sk_')) {
    const row = await db
      .selectFrom('api_keys')
      .innerJoin('principals', 'principals.id', 'api_keys.principal_id')
      .selectAll('principals')
      .select(['api_keys.id as key_id', 'api_keys.scopes', 'api_keys.expires_at', 'api_keys.revoked_at', 'api_keys.last_used_at', 'api_keys.rate_limit_per_minute'])
      .where('api_keys.key_hash', '=', sha256(credential))
      .executeTakeFirst();
    if (!row || row.revoked_at || row.disabled_at) return null;
    if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) return null;
    if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > LAST_USED_RESOLUTION_MS) {
      await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', row.key_id).execute();
    }
    const { key_id, scopes, expires_at, revoked_at, last_used_at, rate_limit_per_minute, ...principal } = row;
    return { principal, apiKey: { id: key_id, scopes, rateLimitPerMinute: rate_limit_per_minute }, via: 'api-key' };
  }
  const claims = await tokens.verify(credential);
  if (!claims) return null;
  const principal = await db.selectFrom('principals').selectAll().where('id', '=', claims.principalId).where('workspace_id', '=', claims.workspaceId).executeTakeFirst();
  if (!principal || principal.disabled_at) return null;
  return { principal, via: 'token' };
}
