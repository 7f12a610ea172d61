import type { Db } from '../db/database.js';
import type { CredentialChange } from './revocations.js';
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

/** How long an api process trusts an API key it resolved without asking the database again. */
const CREDENTIAL_CACHE_TTL_MS = 5_000;
/** Within this much of an entry's end, a request answered from it also re-reads its key, in the background. */
const CREDENTIAL_REFRESH_AHEAD_MS = 1_000;
const CREDENTIAL_CACHE_MAX_ENTRIES = 10_000;

/**
 * API keys this process resolved recently, by key hash: a busy key costs one query per
 * `CREDENTIAL_CACHE_TTL_MS` instead of one per request. Correctness does not rest on the TTL:
 * revoking a key, disabling a principal or changing a principal's row drops the entries at once
 * (`watchCredentialChanges`: this process synchronously, the others through the bus), and the
 * key's own expiry is checked on every hit. The TTL bounds staleness only when the bus lost a
 * message — and the whole cache is dropped when the bus reconnects.
 *
 * A key in steady use is re-read before its entry ends (`refreshAhead`), so its requests never
 * wait for the database: a sender at 20 messages/s had every 100th send wait for the key's
 * read (and once a minute its `last_used_at` write), the sends that made its p99. A read that
 * began before a change to its principal (a revocation, a principal changed) is not stored: it
 * may have seen the row as it was. Changes are told apart by principal (and key), so one
 * principal's change does not keep other principals' reads in flight from being stored.
 */
export class CredentialCache {
  private readonly entries = new Map<string, { auth: AuthContext; keyExpiresAt: number | null; until: number }>();
  /** Key hashes being re-read in the background. */
  private readonly refreshing = new Set<string>();
  /** Bumped whenever entries are dropped for a change: a read begun before it is not stored. */
  private generation = 0;
  /**
   * The latest changes, oldest first, each with the generation it began: a read begun at an
   * earlier generation is stored only if none of those it missed is about its key. Bounded: a
   * read older than every change kept here is not stored, nor is one begun before a `clear()`.
   */
  private readonly changes: { generation: number; change: CredentialChange }[] = [];
  /** The generation of the last `clear()`. */
  private clearedAt = 0;

  constructor(
    private readonly ttlMs = CREDENTIAL_CACHE_TTL_MS,
    private readonly maxEntries = CREDENTIAL_CACHE_MAX_ENTRIES,
    private readonly refreshAheadMs = CREDENTIAL_REFRESH_AHEAD_MS,
  ) {}

  /** What a read starting now passes to `set`. */
  get epoch(): number {
    return this.generation;
  }

  get(keyHash: string, now: number): AuthContext | undefined {
    const entry = this.entries.get(keyHash);
    if (!entry) return undefined;
    if (entry.until <= now || (entry.keyExpiresAt !== null && entry.keyExpiresAt <= now)) {
      this.entries.delete(keyHash);
      return undefined;
    }
    return entry.auth;
  }

  /** Stores what a read begun at `epoch` resolved, unless a change to its key was heard since. */
  set(keyHash: string, auth: AuthContext, keyExpiresAt: number | null, now: number, epoch = this.generation): void {
    if (epoch !== this.generation && this.changedSince(epoch, auth)) return;
    // Oldest first (insertion order): a full cache drops its oldest entry, not a hot one's future.
    // A refreshed entry moves to the end, as a new one.
    this.entries.delete(keyHash);
    const oldest = this.entries.keys().next();
    if (this.entries.size >= this.maxEntries && !oldest.done) this.entries.delete(oldest.value);
    this.entries.set(keyHash, { auth, keyExpiresAt, until: now + this.ttlMs });
  }

  /** Whether the entry of `keyHash` is near its end with no re-read under way; if so, one is now. */
  claimRefresh(keyHash: string, now: number): boolean {
    const entry = this.entries.get(keyHash);
    if (!entry || entry.until - now > this.refreshAheadMs || this.refreshing.has(keyHash)) return false;
    this.refreshing.add(keyHash);
    return true;
  }

  /** Ends a re-read; `auth` null (the key revoked, expired or gone) drops the entry. */
  refreshed(keyHash: string, auth: AuthContext | null | undefined): void {
    this.refreshing.delete(keyHash);
    if (auth === null) this.entries.delete(keyHash);
  }

  forget(change: CredentialChange): void {
    this.generation++;
    this.changes.push({ generation: this.generation, change });
    if (this.changes.length > MAX_CHANGES_KEPT) this.changes.shift();
    for (const [hash, { auth }] of this.entries) {
      if (touches(change, auth)) this.entries.delete(hash);
    }
  }

  clear(): void {
    this.generation++;
    this.clearedAt = this.generation;
    this.changes.length = 0;
    this.entries.clear();
  }

  /** Whether a change heard after generation `epoch` may concern `auth` (or is no longer known). */
  private changedSince(epoch: number, auth: AuthContext): boolean {
    if (epoch < this.clearedAt) return true;
    // The changes right after `epoch` were dropped from the log: assume the worst.
    if (this.changes.length === 0 || this.changes[0].generation > epoch + 1) return true;
    for (let i = this.changes.length - 1; i >= 0 && this.changes[i].generation > epoch; i--) {
      if (touches(this.changes[i].change, auth)) return true;
    }
    return false;
  }
}

/** Changes kept to tell whether a read in flight missed one about its key. */
const MAX_CHANGES_KEPT = 256;

/** Whether `change` is about the principal (and key) of `auth`. */
function touches(change: CredentialChange, auth: AuthContext): boolean {
  return auth.principal.id === change.principalId && (!change.apiKeyId || auth.apiKey?.id === change.apiKeyId);
}

/**
 * Resolves an `sk_` key or an access token to its principal, or null. Shared by api and gateway;
 * with `cache`, a key resolved recently is answered from it.
 */
export async function authenticateCredential(db: Db, tokens: TokenService, credential: string, cache?: CredentialCache): Promise<AuthContext | null> {
  if (credential.startsWith('sk_')) {
    const keyHash = sha256(credential);
    const cached = cache?.get(keyHash, Date.now());
    if (cached) return cached;
    return authenticateApiKey(db, keyHash, cache);
  }
  const claims = await tokens.verify(credential);
  if (!claims) return null;
  const principal = await db.selectFrom('principals').selectAll().where('id', '=', claims.principalId).where('workspace_id', '=', claims.workspaceId).executeTakeFirst();
  if (!principal || principal.disabled_at) return null;
  return { principal, via: 'token' };
}

/**
 * When the cached entry of `keyHash` nears its end, re-reads the key in the background (one
 * read at a time per key): the entry is renewed, or dropped if the key no longer authenticates.
 * A failed read leaves the entry to end at its TTL, and the next request reads the key itself.
 */
export function refreshAhead(db: Db, keyHash: string, cache: CredentialCache, now: number): void {
  if (!cache.claimRefresh(keyHash, now)) return;
  authenticateApiKey(db, keyHash, cache).then((auth) => { cache.refreshed(keyHash, auth); }, () => { cache.refreshed(keyHash, undefined); });
}

/**
 * The key of `keyHash` read from the database (null: unknown, revoked, expired or its principal
 * disabled), stored in `cache`. For a caller that hashed the key already and found no entry in
 * `cache` (the api's hook, which keeps each connection's last key hash): the key is not hashed
 * again, nor the cache asked again.
 */
export async function authenticateApiKey(db: Db, keyHash: string, cache?: CredentialCache): Promise<AuthContext | null> {
  const now = Date.now();
  const epoch = cache?.epoch;
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('principals', 'principals.id', 'api_keys.principal_id')
    .selectAll('principals')
    .select(['api_keys.id as key_id', 'api_keys.scopes', 'api_keys.expires_at', 'api_keys.revoked_at', 'api_keys.last_used_at', 'api_keys.rate_limit_per_minute'])
    .where('api_keys.key_hash', '=', keyHash)
    .executeTakeFirst();
  if (!row || row.revoked_at || row.disabled_at) return null;
  if (row.expires_at && new Date(row.expires_at).getTime() <= Date.now()) return null;
  if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > LAST_USED_RESOLUTION_MS) {
    // Informational: the request does not wait for it, and a failed write is retried by a later one.
    db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', row.key_id).execute().catch(() => undefined);
  }
  const { key_id, scopes, expires_at, revoked_at, last_used_at, rate_limit_per_minute, ...principal } = row;
  const auth: AuthContext = { principal, apiKey: { id: key_id, scopes, rateLimitPerMinute: rate_limit_per_minute }, via: 'api-key' };
  cache?.set(keyHash, auth, expires_at ? new Date(expires_at).getTime() : null, now, epoch);
  return auth;
}
