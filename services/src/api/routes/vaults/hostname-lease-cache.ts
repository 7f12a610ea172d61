import type { Db } from '../../../shared/db/database.js';
import type { VaultItemRow } from '../../../shared/db/schema.js';
import type { ActiveLeaseRef, VaultActor } from './service.js';

/** How long an entry is kept at most, ms: a bound on anything this process was not told about. */
export const HOSTNAME_LEASE_CACHE_TTL_MS = 1000;
/** The most entries kept (callers × hostnames); the oldest goes beyond it. */
const MAX_ENTRIES = 4096;

/** What the broker resolved a URL to: the item bound to its host, with the caller's active lease on it. */
export interface HostnameLease { item: VaultItemRow & { activeLease: ActiveLeaseRef & { status: 'active' } }; host: string }

interface Entry { value: HostnameLease; until: number }

/**
 * The broker's item + active-lease look-up, remembered per (workspace, caller, URL host) for at
 * most `HOSTNAME_LEASE_CACHE_TTL_MS`, so that an agent calling one API in a loop costs no
 * statement for it. Only an *active* lease is kept (a first use, a pending request, a refusal
 * always go to the database), with the item row it was read with — sealed fields included,
 * never opened ones: each request still opens the credential itself and checks the policy.
 *
 * Used on the embedded default only, where this process is the database's only writer: every
 * change that could withdraw access — a lease decided, revoked, renewed or used, an item
 * changed or deleted, a membership changed — is made by this process, which forgets every
 * entry when it commits one (`forgetHostnameLeases`). The lease's expiry is checked against
 * the clock at every use. With several replicas on Postgres nothing is cached: a change made
 * on another replica must count at once there too.
 */
export class HostnameLeaseCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every `forget`: a look-up that started before one must not store what it read. */
  private generation = 0;

  static key(actor: VaultActor, url: URL): string {
    return `${actor.workspaceId} ${actor.id} ${actor.isAdmin ? 'a' : 'm'} ${url.host}`;
  }

  /** The entry for `key` while fresh and its lease not past its expiry at `now` (epoch ms). */
  get(key: string, now: number): HostnameLease | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= now || entry.value.item.activeLease.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** A token to pass to `set`: taken before the look-up whose result `set` stores. */
  snapshot(): number {
    return this.generation;
  }

  set(key: string, value: HostnameLease, now: number, snapshot: number): void {
    if (snapshot !== this.generation) return;
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, until: now + HOSTNAME_LEASE_CACHE_TTL_MS });
  }

  forget(): void {
    this.generation++;
    this.entries.clear();
  }
}

const caches = new WeakMap<Db, HostnameLeaseCache>();

/** The cache of the process for this database handle. */
export function hostnameLeaseCache(db: Db): HostnameLeaseCache {
  let cache = caches.get(db);
  if (!cache) {
    cache = new HostnameLeaseCache();
    caches.set(db, cache);
  }
  return cache;
}

/** After a committed change to leases, items or memberships: nothing cached is trusted any more. */
export function forgetHostnameLeases(db: Db): void {
  caches.get(db)?.forget();
}
