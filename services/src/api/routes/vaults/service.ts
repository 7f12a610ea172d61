import { EventType, inboxStream } from '@sesamespace/sdk/protocol';
import {
  approveLease as approveLeaseState, denyLease as denyLeaseState, describeFields, expireIfDue, generateTotp as totpCode,
  IllegalTransitionError, renewLease as renewLeaseState, revokeLease as revokeLeaseState, systemClock, useLease as useLeaseState,
  validateMaskingPolicy, VaultError, type Clock, type Lease, type MaskingPolicy,
} from '@sesamespace/vault';
import { sql } from 'kysely';
import { appendAudit, appendAuditCommitted } from '../../../shared/audit.js';
import type { AuthContext } from '../../../shared/auth/authenticate.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { Db } from '../../../shared/db/database.js';
import type {
  VaultItemRow, VaultItemType, VaultLeaseRow, VaultLeaseStatus, VaultRole, VaultRow,
} from '../../../shared/db/schema.js';
import { conflict, forbidden, notFound, unprocessable } from '../../../shared/errors.js';
import { withEvents, type Trx } from '../../../shared/events.js';
import { actsAsAdmin } from '../../../shared/http/authentication.js';
import { newId } from '../../../shared/ids.js';
import { vaultKeys } from '../../../shared/vault/keys.js';
import { openSealedFields, sealNewItem, updateSealedFields } from '../../../shared/vault/sealing.js';
import {
  DEFAULT_LEASE_TTL_SECONDS, DEFAULT_MAX_LEASE_TTL_SECONDS, parseBrokerPolicy, parseInjection, PENDING_LEASE_TIMEOUT_SECONDS,
} from './schemas.js';
import { forgetHostnameLeases } from './hostname-lease-cache.js';
import { itemToWire } from './wire.js';
import { leaseColumns, leaseToWire, notifyRequester, toLease } from '../../../shared/vault/lease-rows.js';

/**
 * The vault service: vaults, members, sealed items, reveals and just-in-time leases. Routes
 * (`index.ts`) and other features (the credential broker) call these functions; each takes the
 * acting principal and checks its access itself, except `openItemFields`, which the caller
 * must guard with a lease (`useSecret` / `findActiveLease`).
 *
 * Access: a workspace admin acting as admin is an owner of every vault of its workspace; anyone
 * else needs a membership. A vault the caller cannot see (not a member, another workspace) is a
 * 404; a role that lacks the operation is a 403.
 */

/** Who is acting: a principal of one workspace, with its admin rights when it may use them. */
export interface VaultActor { id: string; workspaceId: string; isAdmin: boolean }

export function vaultActor(auth: AuthContext): VaultActor {
  return { id: auth.principal.id, workspaceId: auth.principal.workspace_id, isAdmin: actsAsAdmin(auth) };
}

/**
 * A change to leases, items or memberships: once it is done (committed, or not), the broker's
 * remembered look-ups (`HostnameLeaseCache`) are forgotten, so the very next request sees it.
 */
async function changingAccess<T>(ctx: ServiceContext, change: Promise<T>): Promise<T> {
  try {
    return await change;
  } finally {
    forgetHostnameLeases(ctx.db);
  }
}

export type VaultOperation = 'view' | 'write' | 'reveal' | 'manage' | 'request' | 'approve';
const ALLOWED: Record<VaultOperation, readonly VaultRole[]> = {
  view: ['owner', 'editor', 'viewer', 'requester'],
  request: ['owner', 'editor', 'viewer', 'requester'],
  write: ['owner', 'editor'],
  reveal: ['owner', 'editor'],
  manage: ['owner'],
  approve: ['owner'],
};
const DENIED: Record<VaultOperation, string> = {
  view: 'You cannot see this vault', request: 'You cannot request leases in this vault',
  write: 'Only owners and editors change items', reveal: 'Only owners and editors reveal values; request a lease instead',
  manage: 'Only vault owners and workspace admins manage a vault', approve: 'Only vault owners and workspace admins decide leases',
};

/** The caller's role in a vault: its membership, or `owner` for an acting admin; null when it has neither. */
async function roleOf(db: Db | Trx, actor: VaultActor, vaultId: string): Promise<VaultRole | null> {
  const member = await db.selectFrom('vault_members').select('role').where('vault_id', '=', vaultId).where('principal_id', '=', actor.id).executeTakeFirst();
  if (member) return member.role === 'owner' || !actor.isAdmin ? member.role : 'owner';
  return actor.isAdmin ? 'owner' : null;
}

function allow(role: VaultRole | null, operation: VaultOperation): VaultRole {
  if (!role) throw notFound('Vault');
  if (!ALLOWED[operation].includes(role)) throw forbidden(DENIED[operation]);
  return role;
}

/** The vault and the caller's role, or 404 (not visible) / 403 (role lacks `operation`). */
async function authorizeVault(db: Db | Trx, actor: VaultActor, vaultId: string, operation: VaultOperation): Promise<{ vault: VaultRow; role: VaultRole }> {
  const vault = await db.selectFrom('vaults').selectAll().where('id', '=', vaultId).where('workspace_id', '=', actor.workspaceId).executeTakeFirst();
  if (!vault) throw notFound('Vault');
  return { vault, role: allow(await roleOf(db, actor, vaultId), operation) };
}

/**
 * Throws as the member routes answer (404 a vault the actor cannot see, 403 not an owner) unless
 * `actor` may add members to the vault: what a registration token's vault grants are checked by.
 */
export async function assertMayManageVault(db: Db | Trx, actor: VaultActor, vaultId: string): Promise<void> {
  await authorizeVault(db, actor, vaultId, 'manage');
}

/** The item, its vault and the caller's role; an item in a vault the caller cannot see is a 404. */
async function authorizeItem(db: Db | Trx, actor: VaultActor, itemId: string, operation: VaultOperation): Promise<{ item: VaultItemRow; vault: VaultRow; role: VaultRole }> {
  const item = await db.selectFrom('vault_items').selectAll().where('id', '=', itemId).where('workspace_id', '=', actor.workspaceId).executeTakeFirst();
  if (!item) throw notFound('Item');
  const role = await roleOf(db, actor, item.vault_id);
  if (!role) throw notFound('Item');
  const vault = await db.selectFrom('vaults').selectAll().where('id', '=', item.vault_id).executeTakeFirstOrThrow();
  return { item, vault, role: allow(role, operation) };
}

// ── Vaults ────────────────────────────────────────────────────────────────────────────────

export async function listVaults(db: Db, actor: VaultActor): Promise<{ vault: VaultRow; role: VaultRole }[]> {
  const rows = await db.selectFrom('vaults')
    .leftJoin('vault_members', (join) => join.onRef('vault_members.vault_id', '=', 'vaults.id').on('vault_members.principal_id', '=', actor.id))
    .selectAll('vaults').select('vault_members.role as member_role')
    .where('vaults.workspace_id', '=', actor.workspaceId)
    .$if(!actor.isAdmin, (q) => q.where('vault_members.role', 'is not', null))
    .orderBy('vaults.created_at').orderBy('vaults.id').execute();
  return rows.map(({ member_role, ...vault }) => ({ vault, role: actor.isAdmin ? 'owner' : member_role ?? 'viewer' }));
}

export async function createVault(ctx: ServiceContext, actor: VaultActor, input: { name: string; description?: string; maxLeaseTtlSeconds?: number }): Promise<VaultRow> {
  return ctx.db.transaction().execute(async (trx) => {
    const now = new Date();
    const vault = await trx.insertInto('vaults').values({
      id: newId('vlt'), workspace_id: actor.workspaceId, name: input.name, description: input.description ?? null,
      masking_policy: JSON.stringify({ alwaysMask: [], neverMask: [] }), max_lease_ttl_seconds: input.maxLeaseTtlSeconds ?? DEFAULT_MAX_LEASE_TTL_SECONDS,
      created_by: actor.id, created_at: now, updated_at: now,
    }).returningAll().executeTakeFirstOrThrow();
    await trx.insertInto('vault_members').values({ vault_id: vault.id, principal_id: actor.id, role: 'owner', added_by: actor.id, added_at: now }).execute();
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.created', targetType: 'vault', targetId: vault.id, data: { name: vault.name } });
    return vault;
  });
}

/** Who belongs to a vault and with which role (any member may see it; admins see every vault's). */
export async function listVaultMembers(db: Db, actor: VaultActor, vaultId: string) {
  await authorizeVault(db, actor, vaultId, 'view');
  return db.selectFrom('vault_members').selectAll().where('vault_id', '=', vaultId).orderBy('added_at').orderBy('principal_id').execute();
}

export async function addVaultMember(ctx: ServiceContext, actor: VaultActor, vaultId: string, principalId: string, role: VaultRole) {
  return changingAccess(ctx, ctx.db.transaction().execute(async (trx) => {
    await authorizeVault(trx, actor, vaultId, 'manage');
    const principal = await trx.selectFrom('principals').select('id').where('id', '=', principalId).where('workspace_id', '=', actor.workspaceId).executeTakeFirst();
    if (!principal) throw unprocessable('principalId: no such principal in this workspace');
    const member = await trx.insertInto('vault_members').values({ vault_id: vaultId, principal_id: principalId, role, added_by: actor.id, added_at: new Date() })
      .onConflict((oc) => oc.columns(['vault_id', 'principal_id']).doUpdateSet({ role }))
      .returningAll().executeTakeFirstOrThrow();
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.member_added', targetType: 'vault', targetId: vaultId, data: { principalId, role } });
    return member;
  }));
}

export async function removeVaultMember(ctx: ServiceContext, actor: VaultActor, vaultId: string, principalId: string): Promise<void> {
  await changingAccess(ctx, ctx.db.transaction().execute(async (trx) => {
    await authorizeVault(trx, actor, vaultId, 'manage');
    // Lock the vault's owner rows so two removals cannot leave it ownerless.
    const owners = await trx.selectFrom('vault_members').select('principal_id').where('vault_id', '=', vaultId).where('role', '=', 'owner').forUpdate().execute();
    const removed = await trx.deleteFrom('vault_members').where('vault_id', '=', vaultId).where('principal_id', '=', principalId).returning('role').executeTakeFirst();
    if (!removed) throw notFound('Vault member');
    if (removed.role === 'owner' && owners.length <= 1) throw conflict('A vault keeps at least one owner; add another owner first');
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.member_removed', targetType: 'vault', targetId: vaultId, data: { principalId } });
  }));
}

export async function updateMaskingPolicy(ctx: ServiceContext, actor: VaultActor, vaultId: string, input: Partial<MaskingPolicy>): Promise<VaultRow> {
  let policy: MaskingPolicy;
  try { policy = validateMaskingPolicy(input); } catch (err) {
    if (err instanceof VaultError) throw unprocessable(err.message);
    throw err;
  }
  return ctx.db.transaction().execute(async (trx) => {
    await authorizeVault(trx, actor, vaultId, 'manage');
    const vault = await trx.updateTable('vaults').set({ masking_policy: JSON.stringify(policy), updated_at: new Date() }).where('id', '=', vaultId).returningAll().executeTakeFirstOrThrow();
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.masking_policy_updated', targetType: 'vault', targetId: vaultId, data: { ...policy } });
    return vault;
  });
}

// ── Items ─────────────────────────────────────────────────────────────────────────────────

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Items of a vault; `q` matches title, hostname and tags (never a value: values are ciphertext). */
export async function listVaultItems(db: Db, actor: VaultActor, vaultId: string, filter: { q?: string; type?: VaultItemType }): Promise<VaultItemRow[]> {
  await authorizeVault(db, actor, vaultId, 'view');
  let query = db.selectFrom('vault_items').selectAll().where('vault_id', '=', vaultId).orderBy('title').orderBy('id').limit(1000);
  if (filter.type) query = query.where('type', '=', filter.type);
  const words = (filter.q ?? '').trim().split(/\s+/).filter(Boolean).slice(0, 10);
  for (const word of words) {
    const pattern = likePattern(word);
    query = query.where((eb) => eb.or([
      eb('title', 'ilike', pattern), eb('hostname', 'ilike', pattern), eb(sql<string>`tags::text`, 'ilike', pattern),
    ]));
  }
  return query.execute();
}

export interface ItemInput {
  title: string; type: VaultItemType; fields: Record<string, string>; hostname?: string | null; tags?: string[]; policy?: unknown; injection?: unknown;
}

const normalizeHostname = (hostname: string | null | undefined) => (hostname ? hostname.toLowerCase().replace(/\.$/, '') : null);

export async function createVaultItem(ctx: ServiceContext, actor: VaultActor, vaultId: string, input: ItemInput): Promise<VaultItemRow> {
  const policy = parseBrokerPolicy(input.policy ?? {});
  const injection = parseInjection(input.injection, input.type);
  return changingAccess(ctx, ctx.db.transaction().execute(async (trx) => {
    await authorizeVault(trx, actor, vaultId, 'write');
    const id = newId('vit');
    const sealed = sealNewItem(vaultKeys(ctx.config), { vaultId, itemId: id }, input.fields);
    const now = new Date();
    const item = await trx.insertInto('vault_items').values({
      id, vault_id: vaultId, workspace_id: actor.workspaceId, title: input.title, type: input.type, hostname: normalizeHostname(input.hostname),
      tags: JSON.stringify([...new Set(input.tags ?? [])]), policy: JSON.stringify(policy), injection: JSON.stringify(injection),
      sealed: JSON.stringify(sealed), key_version: sealed.dataKey.keyVersion, created_by: actor.id, created_at: now, updated_at: now,
    }).returningAll().executeTakeFirstOrThrow();
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.item_created', targetType: 'vault_item', targetId: id, data: { vaultId, title: input.title, fieldKeys: Object.keys(input.fields).sort() } });
    return item;
  }));
}

export interface ItemUpdate {
  title?: string; fields?: Record<string, string>; removeFields?: string[]; hostname?: string | null; tags?: string[]; policy?: unknown; injection?: unknown;
}

export async function updateVaultItem(ctx: ServiceContext, actor: VaultActor, itemId: string, input: ItemUpdate): Promise<VaultItemRow> {
  const policy = input.policy === undefined ? undefined : parseBrokerPolicy(input.policy);
  return changingAccess(ctx, ctx.db.transaction().execute(async (trx) => {
    const { item } = await authorizeItem(trx, actor, itemId, 'write');
    await trx.selectFrom('vault_items').select('id').where('id', '=', itemId).forUpdate().execute();
    const current = await trx.selectFrom('vault_items').selectAll().where('id', '=', itemId).executeTakeFirstOrThrow();
    const changesFields = input.fields !== undefined || (input.removeFields?.length ?? 0) > 0;
    const sealed = changesFields ? updateSealedFields(vaultKeys(ctx.config), { vaultId: item.vault_id, itemId }, current.sealed, input.fields ?? {}, input.removeFields) : current.sealed;
    const updated = await trx.updateTable('vault_items').set({
      ...(input.title !== undefined ? { title: input.title } : {}),
      ...(input.hostname !== undefined ? { hostname: normalizeHostname(input.hostname) } : {}),
      ...(input.tags !== undefined ? { tags: JSON.stringify([...new Set(input.tags)]) } : {}),
      ...(policy !== undefined ? { policy: JSON.stringify(policy) } : {}),
      ...(input.injection !== undefined ? { injection: JSON.stringify(parseInjection(input.injection, current.type)) } : {}),
      sealed: JSON.stringify(sealed), key_version: sealed.dataKey.keyVersion, updated_at: new Date(),
    }).where('id', '=', itemId).returningAll().executeTakeFirstOrThrow();
    await appendAudit(trx, {
      workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.item_updated', targetType: 'vault_item', targetId: itemId,
      data: { vaultId: item.vault_id, changedFields: Object.keys(input.fields ?? {}).sort(), removedFields: input.removeFields ?? [] },
    });
    return updated;
  }));
}

export async function deleteVaultItem(ctx: ServiceContext, actor: VaultActor, itemId: string): Promise<void> {
  await changingAccess(ctx, ctx.db.transaction().execute(async (trx) => {
    const { item } = await authorizeItem(trx, actor, itemId, 'write');
    await trx.deleteFrom('vault_items').where('id', '=', itemId).execute();
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.item_deleted', targetType: 'vault_item', targetId: itemId, data: { vaultId: item.vault_id, title: item.title } });
  }));
}

/**
 * Decrypts an item's fields (all, or `only`). NO ACCESS CHECK: the caller must hold a lease the
 * requester may use (`useSecret`) or otherwise have authorised the read. Throws a Problem
 * Details error, returning nothing, when any ciphertext fails to open.
 */
export function openItemFields(ctx: ServiceContext, item: Pick<VaultItemRow, 'id' | 'vault_id' | 'sealed'>, only?: string[]): Record<string, string> {
  return openSealedFields(vaultKeys(ctx.config), { vaultId: item.vault_id, itemId: item.id }, item.sealed, only);
}

/** An item with its field keys and masked hints (plaintext stays in this function). */
export async function describeVaultItem(ctx: ServiceContext, actor: VaultActor, itemId: string) {
  const { item, vault } = await authorizeItem(ctx.db, actor, itemId, 'view');
  const { fieldKeys, fieldHints } = describeFields(openItemFields(ctx, item), vault.masking_policy);
  return { item: itemToWire(item), fieldKeys, fieldHints };
}

/** Decrypted values for owners and editors; every reveal is audited (who, which fields, when — never a value). */
export async function revealItem(ctx: ServiceContext, actor: VaultActor, itemId: string, only?: string[]): Promise<Record<string, string>> {
  const { item } = await authorizeItem(ctx.db, actor, itemId, 'reveal');
  const fields = openItemFields(ctx, item, only);
  await appendAuditCommitted(ctx.db, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.item_revealed', targetType: 'vault_item', targetId: itemId, data: { vaultId: item.vault_id, fieldKeys: Object.keys(fields).sort() } });
  return fields;
}

/** The field holding a TOTP secret: a value that is an otpauth:// URI, else a field named like one. */
function totpSecretOf(fields: Record<string, string>): string | undefined {
  const uri = Object.values(fields).find((v) => v.startsWith('otpauth://'));
  if (uri) return uri;
  for (const name of ['totp', 'otp', 'totp_secret', 'otp_secret', 'secret']) {
    const match = Object.keys(fields).find((k) => k.toLowerCase() === name);
    if (match) return fields[match];
  }
  return undefined;
}

/** The current RFC 6238 code of the item's TOTP secret (the secret is never returned). */
export async function generateItemTotp(ctx: ServiceContext, actor: VaultActor, itemId: string, clock: Clock = systemClock) {
  const { item } = await authorizeItem(ctx.db, actor, itemId, 'reveal');
  const secret = totpSecretOf(openItemFields(ctx, item));
  if (!secret) throw unprocessable('The item has no TOTP secret (a field named totp/otp/secret, or an otpauth:// URI)');
  let result: { code: string; expiresIn: number; period: number };
  try { result = totpCode(secret, { now: clock.now() }); } catch (err) {
    if (err instanceof VaultError) throw unprocessable('The item\'s TOTP secret is not valid base32 or otpauth:// URI');
    throw err;
  }
  await appendAuditCommitted(ctx.db, { workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.totp_generated', targetType: 'vault_item', targetId: itemId, data: { vaultId: item.vault_id } });
  return result;
}

/** The caller's usable lease on an item for one hostname (approved or active, not past its expiry), as `findItemsByHostname` returns it. */
export interface ActiveLeaseRef { id: string; status: 'approved' | 'active'; /** Epoch ms (rounded down). */ expiresAt: number }

/**
 * Items whose hostname is `hostname` or a parent domain of it (`example.com` for
 * `api.example.com`; the broker then applies the item's `allowed_subdomains`), among the vaults
 * the actor may request leases from. Exact matches first. Each comes with the actor's usable
 * lease on it for `hostname`, if any (what `findActiveLease` finds, read in the same statement).
 */
export async function findItemsByHostname(db: Db, actor: VaultActor, hostname: string, clock: Clock = systemClock): Promise<(VaultItemRow & { activeLease: ActiveLeaseRef | null })[]> {
  const host = normalizeHostname(hostname) ?? '';
  const labels = host.split('.');
  const candidates = labels.map((_, i) => labels.slice(i).join('.')).filter((h) => h.includes('.') || h === host);
  if (candidates.length === 0) return [];
  const now = clock.now();
  const rows = await db.selectFrom('vault_items').selectAll('vault_items')
    .select((eb) => eb.selectFrom('vault_leases').select(sql<string>`vault_leases.status || ' ' || vault_leases.id || ' ' || floor(extract(epoch from vault_leases.expires_at) * 1000)::bigint`.as('lease'))
      .whereRef('vault_leases.item_id', '=', 'vault_items.id').where('vault_leases.workspace_id', '=', actor.workspaceId)
      .where('vault_leases.requester_id', '=', actor.id).where('vault_leases.status', 'in', ['approved', 'active'])
      .where('vault_leases.expires_at', '>', now).where('vault_leases.hostname', '=', host)
      .orderBy('vault_leases.expires_at', 'desc').limit(1).as('active_lease'))
    .where('vault_items.workspace_id', '=', actor.workspaceId)
    .where(sql<string>`lower(vault_items.hostname)`, 'in', candidates)
    .$if(!actor.isAdmin, (q) => q.where((eb) => eb.exists(eb.selectFrom('vault_members').select('vault_members.vault_id')
      .whereRef('vault_members.vault_id', '=', 'vault_items.vault_id').where('vault_members.principal_id', '=', actor.id))))
    .execute();
  return rows
    .map(({ active_lease: lease, ...item }) => {
      const [status, id, expiresAt] = lease?.split(' ') ?? [];
      const activeLease: ActiveLeaseRef | null = id && expiresAt && (status === 'approved' || status === 'active') ? { id, status, expiresAt: Number(expiresAt) } : null;
      return { ...item, activeLease };
    })
    .sort((a, b) => candidates.indexOf(a.hostname ?? '') - candidates.indexOf(b.hostname ?? '') || a.id.localeCompare(b.id));
}

const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

// ── Leases ────────────────────────────────────────────────────────────────────────────────

/** A refused transition as Problem Details: 403 for self-approval, 409 for a lease in the wrong state, 422 for bad input. */
function leaseProblem(err: unknown, row: VaultLeaseRow): Error {
  if (!(err instanceof VaultError)) return err instanceof Error ? err : new Error(String(err));
  if (err.code === 'self_approval') return forbidden('A lease is decided by someone other than its requester');
  if (err.code === 'invalid_lease') return unprocessable(err.message);
  const detail = err instanceof IllegalTransitionError ? `The lease is ${row.status}` : err.message.replace(/^the /, 'The ');
  return conflict(detail, { leaseStatus: row.status });
}

/** Principals who may decide a lease of `vaultId`: its owners and the workspace's admins, never the requester. */
async function approversOf(trx: Trx, workspaceId: string, vaultId: string, requesterId: string): Promise<string[]> {
  const owners = await trx.selectFrom('vault_members').select('principal_id').where('vault_id', '=', vaultId).where('role', '=', 'owner').execute();
  const admins = await trx.selectFrom('principals').select('id').where('workspace_id', '=', workspaceId).where('is_admin', '=', true).where('disabled_at', 'is', null).execute();
  return [...new Set([...owners.map((o) => o.principal_id), ...admins.map((a) => a.id)])].filter((id) => id !== requesterId).sort();
}

export interface LeaseRequestInput { itemId: string; reason: string; ttlSeconds?: number; hostname?: string }

/**
 * Asks for just-in-time access to an item: a `pending` lease, and a `vault.lease_request` event
 * on each approver's inbox stream. Any member of the vault may ask; the TTL (default 15 minutes)
 * may not exceed the vault's max.
 */
export async function requestLease(ctx: ServiceContext, actor: VaultActor, input: LeaseRequestInput, clock: Clock = systemClock): Promise<VaultLeaseRow> {
  return withEvents(ctx.db, actor.workspaceId, ctx.publish, async (trx, events) => {
    const { item, vault } = await authorizeItem(trx, actor, input.itemId, 'request');
    const ttl = input.ttlSeconds ?? Math.min(DEFAULT_LEASE_TTL_SECONDS, vault.max_lease_ttl_seconds);
    if (ttl > vault.max_lease_ttl_seconds) throw unprocessable(`ttlSeconds: at most ${String(vault.max_lease_ttl_seconds)} in this vault`);
    const now = clock.now();
    const lease = await trx.insertInto('vault_leases').values({
      id: newId('lse'), workspace_id: actor.workspaceId, vault_id: vault.id, item_id: item.id, requester_id: actor.id, reason: input.reason.trim(),
      hostname: normalizeHostname(input.hostname), status: 'pending', ttl_seconds: ttl, max_ttl_seconds: vault.max_lease_ttl_seconds, uses_allowed: null,
      requested_at: now, pending_expires_at: new Date(now.getTime() + PENDING_LEASE_TIMEOUT_SECONDS * 1000),
    }).returningAll().executeTakeFirstOrThrow();
    const requester = await trx.selectFrom('principals').select(['id', 'handle', 'display_name', 'kind']).where('id', '=', actor.id).executeTakeFirstOrThrow();
    const payload = {
      lease: leaseToWire(lease), item: { id: item.id, title: item.title, type: item.type, hostname: item.hostname }, vault: { id: vault.id, name: vault.name },
      requester: { id: requester.id, handle: requester.handle, displayName: requester.display_name, kind: requester.kind },
    };
    for (const approver of await approversOf(trx, actor.workspaceId, vault.id, actor.id)) await events.append(inboxStream(approver), EventType.LeaseRequest, payload);
    await appendAudit(trx, {
      workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.lease_requested', targetType: 'vault_lease', targetId: lease.id,
      data: { vaultId: vault.id, itemId: item.id, ttlSeconds: ttl, hostname: lease.hostname },
    });
    return lease;
  });
}

/** Leases the actor asked for, and those it may decide (vaults it owns; every vault for an admin). */
export async function listLeases(db: Db, actor: VaultActor, filter: { status?: VaultLeaseStatus; vaultId?: string }): Promise<VaultLeaseRow[]> {
  let query = db.selectFrom('vault_leases').selectAll('vault_leases').where('vault_leases.workspace_id', '=', actor.workspaceId);
  if (!actor.isAdmin) {
    query = query.where((eb) => eb.or([
      eb('vault_leases.requester_id', '=', actor.id),
      eb.exists(eb.selectFrom('vault_members').select('vault_members.vault_id').whereRef('vault_members.vault_id', '=', 'vault_leases.vault_id')
        .where('vault_members.principal_id', '=', actor.id).where('vault_members.role', '=', 'owner')),
    ]));
  }
  if (filter.status) query = query.where('vault_leases.status', '=', filter.status);
  if (filter.vaultId) query = query.where('vault_leases.vault_id', '=', filter.vaultId);
  return query.orderBy('vault_leases.requested_at', 'desc').orderBy('vault_leases.id').limit(500).execute();
}

/** Locks a lease of the actor's workspace for a transition (the row lock makes concurrent decisions take turns). */
async function lockLease(trx: Trx, actor: VaultActor, leaseId: string): Promise<VaultLeaseRow> {
  const row = await trx.selectFrom('vault_leases').selectAll().where('id', '=', leaseId).where('workspace_id', '=', actor.workspaceId).forUpdate().executeTakeFirst();
  if (!row) throw notFound('Lease');
  return row;
}

/** Whether the actor may see a lease: its requester, or someone who may decide it. 404 otherwise. */
async function assertCanSee(trx: Trx, actor: VaultActor, row: VaultLeaseRow): Promise<VaultRole | null> {
  const role = await roleOf(trx, actor, row.vault_id);
  if (row.requester_id !== actor.id && role !== 'owner') throw notFound('Lease');
  return role;
}

async function transition(
  ctx: ServiceContext, actor: VaultActor, leaseId: string,
  decide: (row: VaultLeaseRow, trx: Trx) => Promise<Lease>, audit: (row: VaultLeaseRow) => { action: string; data: Record<string, unknown> },
): Promise<VaultLeaseRow> {
  return changingAccess(ctx, withEvents(ctx.db, actor.workspaceId, ctx.publish, async (trx, events) => {
    const row = await lockLease(trx, actor, leaseId);
    let next: Lease;
    try { next = await decide(row, trx); } catch (err) { throw leaseProblem(err, row); }
    const updated = await trx.updateTable('vault_leases').set(leaseColumns(next)).where('id', '=', leaseId).returningAll().executeTakeFirstOrThrow();
    await notifyRequester(events, updated);
    const { action, data } = audit(updated);
    await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: actor.id, action, targetType: 'vault_lease', targetId: leaseId, data: { vaultId: row.vault_id, itemId: row.item_id, ...data } });
    return updated;
  }));
}

/** Approval by a vault owner or workspace admin other than the requester; starts the TTL (optionally shortened or lengthened up to the vault's max). */
export async function approveLease(ctx: ServiceContext, actor: VaultActor, leaseId: string, input: { ttlSeconds?: number } = {}, clock: Clock = systemClock) {
  return transition(ctx, actor, leaseId, async (row, trx) => {
    if (row.requester_id === actor.id) throw new VaultError('self_approval', 'self');
    const role = await assertCanSee(trx, actor, row);
    if (role !== 'owner') throw notFound('Lease');
    if (input.ttlSeconds !== undefined && input.ttlSeconds > row.max_ttl_seconds) throw new VaultError('invalid_lease', `ttlSeconds: at most ${String(row.max_ttl_seconds)} in this vault`);
    return approveLeaseState({ ...toLease(row), ttlSeconds: input.ttlSeconds ?? row.ttl_seconds }, actor.id, clock);
  }, (l) => ({ action: 'vault.lease_approved', data: { ttlSeconds: l.ttl_seconds, expiresAt: isoOrNull(l.expires_at) } }));
}

/** One denial by a vault owner or workspace admin ends the request. */
export async function denyLease(ctx: ServiceContext, actor: VaultActor, leaseId: string, input: { reason?: string } = {}, clock: Clock = systemClock) {
  return transition(ctx, actor, leaseId, async (row, trx) => {
    if (row.requester_id === actor.id) throw new VaultError('self_approval', 'self');
    const role = await assertCanSee(trx, actor, row);
    if (role !== 'owner') throw notFound('Lease');
    return denyLeaseState(toLease(row), actor.id, clock, input.reason);
  }, () => ({ action: 'vault.lease_denied', data: {} }));
}

/** Renewal by the requester: the expiry moves by `ttlSeconds`, capped at the vault's max TTL from now. */
export async function renewLease(ctx: ServiceContext, actor: VaultActor, leaseId: string, ttlSeconds: number, clock: Clock = systemClock) {
  return transition(ctx, actor, leaseId, async (row, trx) => {
    await assertCanSee(trx, actor, row);
    if (row.requester_id !== actor.id) throw forbidden('Only the requester renews a lease');
    return renewLeaseState(toLease(row), ttlSeconds, clock);
  }, (l) => ({ action: 'vault.lease_renewed', data: { expiresAt: isoOrNull(l.expires_at) } }));
}

/** Immediate and final, by the requester, a vault owner or a workspace admin. */
export async function revokeLease(ctx: ServiceContext, actor: VaultActor, leaseId: string, clock: Clock = systemClock) {
  return transition(ctx, actor, leaseId, async (row, trx) => {
    await assertCanSee(trx, actor, row);
    return revokeLeaseState(toLease(row), actor.id, clock);
  }, () => ({ action: 'vault.lease_revoked', data: {} }));
}

/**
 * The secret behind a lease, for its requester only and only while the lease is approved or
 * active: the TTL is checked here against `clock` at every call (a lease past its expiry is
 * marked expired now, whether or not the worker has swept it). Each use is counted and audited.
 */
export async function useSecret(ctx: ServiceContext, actor: VaultActor, leaseId: string, clock: Clock = systemClock): Promise<SecretUse> {
  return (await useSecretFast(ctx, actor, leaseId, clock)) ?? useSecretChecked(ctx, actor, leaseId, clock);
}

type SecretUse = { fields: Record<string, string>; lease: VaultLeaseRow };

/** The most uses of one lease one UPDATE claims; more wait for the next claim. */
const MAX_USES_PER_CLAIM = 256;

interface UseWaiter { resolve: (use: SecretUse | undefined) => void; reject: (err: unknown) => void }

/** Uses of one lease by one actor waiting to be claimed, per database handle. */
const useQueues = new WeakMap<Db, Map<string, UseWaiter[]>>();

/**
 * The common case, a lease already active: concurrent uses of one lease by its requester are
 * claimed together (otherwise each would wait, in turn, for the lease row the one before it
 * updated). One conditional UPDATE claims the waiting uses — requester, status, expiry against
 * the clock and the use cap checked by the database, the row locked only for that statement —
 * and returns the item's sealed fields with it; they are opened once, and each use gets its own
 * number and its own `vault.secret_used` entry through the audit group commit, which resolves
 * only once the entries are committed. The plaintext leaves this function only after that: an
 * append that fails fails the call, and the use counted is then one that returned nothing.
 * Undefined when the UPDATE matches nothing (a first use, a refusal, an expiry):
 * `useSecretChecked` then finds out why and answers accordingly. An injected clock (tests)
 * claims its use alone.
 */
function useSecretFast(ctx: ServiceContext, actor: VaultActor, leaseId: string, clock: Clock): Promise<SecretUse | undefined> {
  if (clock !== systemClock) return claimUses(ctx, actor, leaseId, clock, 1).then((uses) => uses?.[0]);
  let queues = useQueues.get(ctx.db);
  if (!queues) {
    queues = new Map();
    useQueues.set(ctx.db, queues);
  }
  const key = `${actor.workspaceId} ${actor.id} ${leaseId}`;
  return new Promise((resolve, reject) => {
    const queue = queues.get(key);
    if (queue) {
      queue.push({ resolve, reject });
      return;
    }
    const fresh = [{ resolve, reject }];
    queues.set(key, fresh);
    void drainUses(ctx, actor, leaseId, fresh, () => { queues.delete(key); });
  });
}

/** Claims the queue's uses batch after batch; each batch is opened and audited while the next is claimed. */
async function drainUses(ctx: ServiceContext, actor: VaultActor, leaseId: string, queue: UseWaiter[], done: () => void): Promise<void> {
  while (queue.length > 0) {
    // Uses that arrived together (in the same tick) are claimed together.
    await Promise.resolve();
    const batch = queue.splice(0, MAX_USES_PER_CLAIM);
    let claimed: Awaited<ReturnType<typeof claimRow>>;
    try {
      claimed = await claimRow(ctx, actor, leaseId, systemClock, batch.length);
    } catch (err) {
      for (const waiter of batch) waiter.reject(err);
      continue;
    }
    if (!claimed) {
      for (const waiter of batch) waiter.resolve(undefined);
      continue;
    }
    openAndAudit(ctx, actor, claimed, batch.length).then(
      (uses) => { batch.forEach((waiter, i) => { waiter.resolve(uses[i]); }); },
      (err: unknown) => { for (const waiter of batch) waiter.reject(err); },
    );
  }
  done();
}

async function claimUses(ctx: ServiceContext, actor: VaultActor, leaseId: string, clock: Clock, count: number): Promise<SecretUse[] | undefined> {
  const claimed = await claimRow(ctx, actor, leaseId, clock, count);
  return claimed ? openAndAudit(ctx, actor, claimed, count) : undefined;
}

/** `count` uses of an active lease counted in one statement, with the item's sealed fields; undefined when the lease may not be used now. */
async function claimRow(ctx: ServiceContext, actor: VaultActor, leaseId: string, clock: Clock, count: number) {
  const now = clock.now();
  return ctx.db.updateTable('vault_leases').from('vault_items')
    .set((eb) => ({ uses_count: eb('vault_leases.uses_count', '+', count), last_used_at: now }))
    .whereRef('vault_items.id', '=', 'vault_leases.item_id')
    .where('vault_leases.id', '=', leaseId).where('vault_leases.workspace_id', '=', actor.workspaceId).where('vault_leases.requester_id', '=', actor.id)
    .where('vault_leases.status', '=', 'active').where('vault_leases.expires_at', '>', now)
    .where((eb) => eb.or([eb('vault_leases.uses_allowed', 'is', null), eb(eb('vault_leases.uses_count', '+', count), '<=', eb.ref('vault_leases.uses_allowed'))]))
    .returningAll('vault_leases').returning(['vault_items.vault_id as item_vault_id', 'vault_items.sealed'])
    .executeTakeFirst();
}

/** Opens the claimed item once and audits each claimed use (numbered up to the lease's new count); resolves once every entry is committed. */
async function openAndAudit(ctx: ServiceContext, actor: VaultActor, claimed: NonNullable<Awaited<ReturnType<typeof claimRow>>>, count: number): Promise<SecretUse[]> {
  const { item_vault_id: itemVaultId, sealed, ...lease } = claimed;
  const fields = openItemFields(ctx, { id: lease.item_id, vault_id: itemVaultId, sealed });
  const fieldKeys = Object.keys(fields).sort();
  const uses = Array.from({ length: count }, (_, i) => ({ fields: { ...fields }, lease: { ...lease, uses_count: lease.uses_count - count + 1 + i } }));
  await Promise.all(uses.map((use) => appendAuditCommitted(ctx.db, {
    workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.secret_used', targetType: 'vault_lease', targetId: lease.id,
    data: { vaultId: lease.vault_id, itemId: lease.item_id, fieldKeys, use: use.lease.uses_count },
  })));
  return uses;
}

/** Every other case, under the lease's row lock: refusals with their reason, and an expiry found at use recorded. */
async function useSecretChecked(ctx: ServiceContext, actor: VaultActor, leaseId: string, clock: Clock): Promise<{ fields: Record<string, string>; lease: VaultLeaseRow }> {
  const outcome = await withEvents(ctx.db, actor.workspaceId, ctx.publish, async (trx, events) => {
    const row = await lockLease(trx, actor, leaseId);
    if (row.requester_id !== actor.id) {
      await assertCanSee(trx, actor, row);
      throw forbidden('Only the requester of a lease may use it');
    }
    const due = expireIfDue(toLease(row), clock);
    if (due.status === 'expired' && row.status !== 'expired') {
      // Recorded even though the call fails: the expiry is a fact, and the requester is told.
      const expired = await trx.updateTable('vault_leases').set(leaseColumns(due)).where('id', '=', leaseId).returningAll().executeTakeFirstOrThrow();
      await notifyRequester(events, expired);
      await appendAudit(trx, { workspaceId: actor.workspaceId, actorId: null, action: 'vault.lease_expired', targetType: 'vault_lease', targetId: leaseId, data: { vaultId: row.vault_id, itemId: row.item_id } });
      return { expired: true } as const;
    }
    let next: Lease;
    try { next = useLeaseState(toLease(row), clock); } catch (err) { throw leaseProblem(err, row); }
    const item = await trx.selectFrom('vault_items').select(['id', 'vault_id', 'sealed']).where('id', '=', row.item_id).executeTakeFirst();
    if (!item) throw notFound('Item');
    const fields = openItemFields(ctx, item);
    const updated = await trx.updateTable('vault_leases').set(leaseColumns(next)).where('id', '=', leaseId).returningAll().executeTakeFirstOrThrow();
    if (row.status === 'approved') await notifyRequester(events, updated);
    await appendAudit(trx, {
      workspaceId: actor.workspaceId, actorId: actor.id, action: 'vault.secret_used', targetType: 'vault_lease', targetId: leaseId,
      data: { vaultId: row.vault_id, itemId: row.item_id, fieldKeys: Object.keys(fields).sort(), use: next.usesCount },
    });
    return { fields, lease: updated } as const;
  });
  if ('expired' in outcome) throw conflict('The lease has expired', { leaseStatus: 'expired' });
  return outcome;
}

/** The actor's usable lease on an item (approved or active, not past its expiry), newest first; for the broker. */
export async function findActiveLease(db: Db, actor: VaultActor, itemId: string, options: { hostname?: string; clock?: Clock } = {}): Promise<VaultLeaseRow | undefined> {
  const now = (options.clock ?? systemClock).now();
  let query = db.selectFrom('vault_leases').selectAll().where('workspace_id', '=', actor.workspaceId).where('requester_id', '=', actor.id)
    .where('item_id', '=', itemId).where('status', 'in', ['approved', 'active']).where('expires_at', '>', now);
  if (options.hostname !== undefined) query = query.where('hostname', '=', normalizeHostname(options.hostname));
  return query.orderBy('expires_at', 'desc').limit(1).executeTakeFirst();
}

