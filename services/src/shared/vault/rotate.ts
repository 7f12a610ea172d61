import { generateMasterKey } from '@sesamespace/vault';
import type { Db } from '../db/database.js';
import { formatMasterKeys, masterKeySource, vaultKeys, writeKeyFile } from './keys.js';
import type { Config } from '../config.js';
import { rewrapSealed } from './sealing.js';
import { sealStoredWebhookSecrets, webhookSecretsNotUnder } from '../webhooks/secret-sealing.js';

/**
 * Rewraps up to `limit` items whose data key is not under the newest master key, in one
 * transaction; rows another transaction holds (an item being edited) are skipped with
 * `SKIP LOCKED` and taken by a later batch. Only data keys change: field ciphertexts stay, and no
 * plaintext value is produced. Returns how many items were rewrapped.
 */
export async function rewrapBatch(db: Db, config: Config, limit = 100): Promise<number> {
  const keys = vaultKeys(config);
  const current = keys.keyring().currentVersion;
  return db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('vault_items').select(['id', 'vault_id', 'sealed']).where('key_version', '<>', current)
      .orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    for (const row of rows) {
      const sealed = rewrapSealed(keys, { vaultId: row.vault_id, itemId: row.id }, row.sealed);
      await trx.updateTable('vault_items').set({ sealed: JSON.stringify(sealed), key_version: sealed.dataKey.keyVersion }).where('id', '=', row.id).execute();
    }
    return rows.length;
  });
}

async function remaining(db: Db, current: number): Promise<number> {
  const row = await db.selectFrom('vault_items').select((eb) => eb.fn.countAll<string>().as('n')).where('key_version', '<>', current).executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Runs `batch` until it finds nothing to do and `left` says nothing is left; `progress` hears the
 * running total after each batch that did something. Rows held by a writer are skipped by a
 * batch: when a batch did nothing but some are left, it waits a moment and tries again.
 */
async function untilNoneLeft(batch: () => Promise<number>, left: () => Promise<number>, progress: (total: number) => void): Promise<number> {
  let total = 0;
  for (;;) {
    const done = await batch();
    total += done;
    if (done > 0) progress(total);
    else if ((await left()) === 0) return total;
    // Everything left is locked by a writer right now: give it a moment.
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * `sesame-server vault rotate-key`: moves every item's data key (and every webhook signing
 * secret's) under a new master key.
 *
 * - Key file (embedded): a new version is appended to `vault.key` (both versions open items
 *   from then on), every item is rewrapped, then the old versions are dropped from the file. The
 *   file is the progress marker: a run interrupted at any point finds two versions in it and
 *   resumes the rewrap instead of adding a third.
 * - SESAME_VAULT_KEY (shared database): the operator gives every process the keyring
 *   `v1:<old>,v2:<new>` first (a rolling restart; both keys open items, the new one wraps new
 *   ones); this rewraps every item under the newest version while the servers keep serving, and
 *   says when the old version can be removed. Run it again after an interruption: items already
 *   rewrapped are skipped.
 */
export async function rotateMasterKey(db: Db, config: Config, log: (line: string) => void): Promise<{ rewrapped: number }> {
  const source = masterKeySource(config);
  if (!source) throw new Error('SESAME_VAULT_KEY is not set: the vault has no master key to rotate');
  const keys = vaultKeys(config);
  // The file as it is now (another run may have changed it since this process read it).
  keys.reload();
  if (source.kind === 'env') {
    if (keys.keyring().versions().length < 2) {
      throw new Error('SESAME_VAULT_KEY holds one key. Give every process the keyring "v1:<current key>,v2:<new key>" (openssl rand -base64 32), restart them, then run this again');
    }
  } else if (keys.keyring().versions().length < 2) {
    const ring = keys.keyring();
    const next = ring.currentVersion + 1;
    const entries: Record<number, string> = { [ring.currentVersion]: ring.key(ring.currentVersion).toString('base64'), [next]: generateMasterKey() };
    writeKeyFile(source.path, formatMasterKeys(entries));
    keys.reload();
    log(`added master key v${String(next)} to ${source.path}`);
  } else {
    log(`resuming an interrupted rotation: ${source.path} holds versions ${keys.keyring().versions().join(', ')}`);
  }
  const current = keys.keyring().currentVersion;
  const rewrapped = await untilNoneLeft(() => rewrapBatch(db, config), () => remaining(db, current), (n) => { log(`rewrapped ${String(n)} item(s)`); });
  // Webhook signing secrets are sealed under the same master keys (and any stored before the vault had one are sealed now).
  await untilNoneLeft(() => sealStoredWebhookSecrets(db, config, { rewrap: true }), () => webhookSecretsNotUnder(db, current), (n) => { log(`sealed or rewrapped ${String(n)} webhook signing secret(s)`); });
  if (source.kind === 'file') {
    const ring = keys.keyring();
    writeKeyFile(source.path, formatMasterKeys({ [current]: ring.key(current).toString('base64') }));
    keys.reload();
    log(`every item is under v${String(current)}; older versions removed from ${source.path}`);
  } else {
    const old = keys.keyring().versions().filter((v) => v !== current).map((v) => `v${String(v)}`).join(', ');
    log(`every item is under v${String(current)}; now remove ${old} from SESAME_VAULT_KEY on every process, keeping the version prefix: SESAME_VAULT_KEY=v${String(current)}:<its key>`);
  }
  return { rewrapped };
}
