import type { SealedItem } from '@sesamespace/vault';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { masterKeySource, vaultKeys } from '../vault/keys.js';
import { openSealedFields, rewrapSealed, sealNewItem } from '../vault/sealing.js';

/**
 * Webhook signing secrets at rest, sealed under the vault's master keys like vault items: a copy
 * of the database alone cannot forge a delivery. A stored secret is `sealed:` + the envelope as
 * JSON, bound (associated data) to its webhook's id, so a ciphertext moved to another webhook does
 * not open. Without a vault key (a shared database with no `SESAME_VAULT_KEY`) secrets are stored
 * as they are, and sealed by the first start that has one (`sealStoredWebhookSecrets`).
 */
const SEALED_PREFIX = 'sealed:';
/** The envelope's "vault" for webhook secrets: no vault id (`vlt_…`) can take it. */
const WEBHOOK_SECRETS = 'webhook-secrets';
const FIELD = 'secret';

const refOf = (webhookId: string) => ({ vaultId: WEBHOOK_SECRETS, itemId: webhookId });

/** What to store for `secret` of `webhookId`: sealed when the vault has a master key. */
export function sealWebhookSecret(config: Config, webhookId: string, secret: string): string {
  if (!masterKeySource(config)) return secret;
  return SEALED_PREFIX + JSON.stringify(sealNewItem(vaultKeys(config), refOf(webhookId), { [FIELD]: secret }));
}

/** The signing secret a stored value holds (throws, naming no key material, when it does not open). */
export function openWebhookSecret(config: Config, webhookId: string, stored: string): string {
  if (!stored.startsWith(SEALED_PREFIX)) return stored;
  const sealed = JSON.parse(stored.slice(SEALED_PREFIX.length)) as SealedItem;
  const fields: Partial<Record<string, string>> = openSealedFields(vaultKeys(config), refOf(webhookId), sealed, [FIELD]);
  const secret = fields[FIELD];
  if (secret === undefined) throw new Error('the stored webhook secret has no value');
  return secret;
}

/**
 * Seals the secrets still stored as they are and, with `rewrap` (only `vault rotate-key`: during
 * a rolling restart to a new keyring, processes still holding only the old key must keep opening
 * them), rewraps sealed ones whose data key is not under the newest master key. Webhooks are few,
 * so one pass over the table; rows another transaction holds are skipped and taken by the next
 * call; a row that cannot be read is left as it is. Returns how many changed.
 */
export async function sealStoredWebhookSecrets(db: Db, config: Config, options: { rewrap: boolean }): Promise<number> {
  if (!masterKeySource(config)) return 0;
  const keys = vaultKeys(config);
  const current = keys.keyring().currentVersion;
  return db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('webhook_secrets').select(['id', 'webhook_id', 'secret']).orderBy('id').forUpdate().skipLocked().execute();
    let changed = 0;
    for (const row of rows) {
      let next: string | undefined;
      try {
        if (!row.secret.startsWith(SEALED_PREFIX)) {
          next = sealWebhookSecret(config, row.webhook_id, row.secret);
        } else if (options.rewrap) {
          const sealed = JSON.parse(row.secret.slice(SEALED_PREFIX.length)) as SealedItem;
          if (sealed.dataKey.keyVersion !== current) next = SEALED_PREFIX + JSON.stringify(rewrapSealed(keys, refOf(row.webhook_id), sealed));
        }
      } catch {
        // Unreadable (tampered, or under a key this process lacks): its deliveries say so; the others go on.
        continue;
      }
      if (next === undefined || next === row.secret) continue;
      await trx.updateTable('webhook_secrets').set({ secret: next }).where('id', '=', row.id).execute();
      changed++;
    }
    return changed;
  });
}

/** Sealed secrets whose data key is not under master key `version` (what a rotation still has to rewrap). */
export async function webhookSecretsNotUnder(db: Db, version: number): Promise<number> {
  const rows = await db.selectFrom('webhook_secrets').select('secret').where('secret', 'like', `${SEALED_PREFIX}%`).execute();
  return rows.filter((row) => {
    try {
      return (JSON.parse(row.secret.slice(SEALED_PREFIX.length)) as SealedItem).dataKey.keyVersion !== version;
    } catch {
      return false; // unreadable: no rotation can rewrap it
    }
  }).length;
}
