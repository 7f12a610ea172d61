import { sql } from 'kysely';
import { appendAudit } from './audit.js';
import { generateApiKey, sha256, visiblePrefix } from './auth/secrets.js';
import type { Db } from './db/database.js';
import { newId } from './ids.js';
import type { Logger } from './logger.js';

/**
 * First start: creates the default workspace and its admin principal holding an API key —
 * `SESAME_BOOTSTRAP_API_KEY` when given (so scripts start from nothing), otherwise a random key
 * printed once. Later starts do nothing. Safe when several processes start at once.
 */
export async function bootstrapFirstAdmin(db: Db, logger: Logger, bootstrapKey: string | undefined): Promise<{ created: boolean; apiKey?: string }> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('sesame:bootstrap'))`.execute(trx);
    const anyAdmin = await trx.selectFrom('principals').select('id').where('is_admin', '=', true).limit(1).executeTakeFirst();
    if (anyAdmin) {
      if (bootstrapKey) {
        const known = await trx.selectFrom('api_keys').select('id').where('key_hash', '=', sha256(bootstrapKey)).executeTakeFirst();
        if (!known) logger.warn('SESAME_BOOTSTRAP_API_KEY is ignored: setup is already complete');
      }
      return { created: false };
    }
    const key = bootstrapKey ? { key: bootstrapKey, prefix: visiblePrefix(bootstrapKey), hash: sha256(bootstrapKey) } : generateApiKey();
    const workspaceId = newId('ws');
    const adminId = newId('pr');
    const now = new Date();
    await trx.insertInto('workspaces').values({ id: workspaceId, name: 'Default workspace', settings: '{}', created_at: now }).execute();
    await trx.insertInto('principals').values({
      id: adminId, workspace_id: workspaceId, kind: 'human', handle: 'admin', display_name: 'Administrator',
      email: null, password_hash: null, public_key: null, is_admin: true, created_at: now,
    }).execute();
    await trx.insertInto('api_keys').values({
      id: newId('key'), workspace_id: workspaceId, principal_id: adminId, name: 'bootstrap', prefix: key.prefix, key_hash: key.hash,
      scopes: JSON.stringify(['*']), rate_limit_per_minute: null, expires_at: null, created_at: now,
    }).execute();
    await appendAudit(trx, { workspaceId, actorId: null, action: 'setup.bootstrap', targetType: 'principal', targetId: adminId, data: { keyPrefix: key.prefix } });
    return { created: true, apiKey: bootstrapKey ? undefined : key.key };
  });
}
