import { appendAuditCommitted } from '../../../shared/audit.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { VaultItemRow, VaultLeaseRow } from '../../../shared/db/schema.js';
import { forbidden, SesameError, unprocessable } from '../../../shared/errors.js';
import { OutboundFailedError, OutboundRefusedError, outboundAllowList, refusedOutboundUrl, sendOutbound } from '../../../shared/outbound/index.js';
import { HostnameLeaseCache, hostnameLeaseCache } from '../vaults/hostname-lease-cache.js';
import { findItemsByHostname, openItemFields, requestLease, useSecret, type ActiveLeaseRef, type VaultActor } from '../vaults/service.js';
import { credentialValues, injectCredential, MissingCredentialFieldError, type PreparedRequest } from './injection.js';
import { hostAllowed, normaliseHost, policyDenial } from './policy.js';

/** How often a waiting request looks at its lease again (the decision lives in Postgres, so any replica sees it). */
const DECISION_POLL_MS = 250;
const REDACTED = '[REDACTED]';
/** Response headers never handed back: hop-by-hop, and cookies the upstream set for the credential's session. */
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'set-cookie', 'proxy-authenticate', 'upgrade']);

export interface BrokerRequest { method: string; url: string; headers?: Record<string, string>; body?: string; waitForApproval?: boolean }
export interface BrokerAnswer { status_code: number; headers: Record<string, string>; body: string; truncated: boolean }
export type BrokerOutcome = { kind: 'response'; response: BrokerAnswer } | { kind: 'pending'; hostname: string; leaseId: string };

/** The host as items name it: `host:port` when the URL has a non-default port, else the host name. */
function hostOf(url: URL): string {
  return normaliseHost(url.host);
}

/**
 * The item whose credential applies to `url`: one whose hostname is the URL's host (exact, or a
 * parent whose policy lists this subdomain in `allowed_subdomains`), among the vaults the
 * caller may request from. 404 when there is none.
 */
async function itemFor(ctx: ServiceContext, actor: VaultActor, url: URL): Promise<{ item: VaultItemRow & { activeLease: ActiveLeaseRef | null }; host: string }> {
  // On the embedded default an agent's repeated calls to one host skip the look-up (see HostnameLeaseCache).
  const cache = ctx.config.DATABASE_URL ? undefined : hostnameLeaseCache(ctx.db);
  const key = cache ? HostnameLeaseCache.key(actor, url) : '';
  const cached = cache?.get(key, Date.now());
  if (cached) return cached;
  const snapshot = cache?.snapshot();
  const hosts = [...new Set([hostOf(url), normaliseHost(url.hostname)])];
  for (const host of hosts) {
    const items = await findItemsByHostname(ctx.db, actor, host);
    const item = items.find((candidate) => candidate.hostname !== null && hostAllowed(candidate.policy, candidate.hostname, host));
    if (!item) continue;
    const lease = item.activeLease;
    if (cache && snapshot !== undefined && lease?.status === 'active') cache.set(key, { item: { ...item, activeLease: { ...lease, status: lease.status } }, host }, Date.now(), snapshot);
    return { item, host };
  }
  throw new SesameError('not-found', `No secret configured for hostname ${url.hostname}`);
}

/**
 * The caller's open lease for this item and hostname: a pending request still open, or one
 * approved (or activated) since the item was read — a decision landing between that read and
 * this one must not make the request ask again and wait for nobody.
 */
async function openLease(ctx: ServiceContext, actor: VaultActor, itemId: string, hostname: string): Promise<VaultLeaseRow | undefined> {
  const now = new Date();
  return ctx.db.selectFrom('vault_leases').selectAll().where('workspace_id', '=', actor.workspaceId).where('requester_id', '=', actor.id)
    .where('item_id', '=', itemId).where('hostname', '=', hostname)
    .where((eb) => eb.or([
      eb.and([eb('status', '=', 'pending'), eb('pending_expires_at', '>', now)]),
      eb.and([eb('status', 'in', ['approved', 'active']), eb('expires_at', '>', now)]),
    ]))
    .orderBy('requested_at', 'desc').limit(1).executeTakeFirst();
}

type Decision = 'approved' | 'denied' | 'expired' | 'revoked' | 'pending';

/** Polls the lease until a human decides, it expires, the wait ends or the client goes away. */
async function awaitDecision(ctx: ServiceContext, leaseId: string, waitMs: number, signal: AbortSignal): Promise<Decision> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await ctx.db.selectFrom('vault_leases').select(['status', 'pending_expires_at']).where('id', '=', leaseId).executeTakeFirstOrThrow();
    if (row.status === 'approved' || row.status === 'active') return 'approved';
    if (row.status !== 'pending') return row.status;
    if (row.pending_expires_at.getTime() <= Date.now()) return 'expired';
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) return 'pending';
    await new Promise((resolve) => setTimeout(resolve, Math.min(DECISION_POLL_MS, left)));
  }
}

const DECISION_REFUSALS: Record<Exclude<Decision, 'approved' | 'pending'>, string> = {
  denied: 'Access denied: the request for access to {host} was denied. Ask the user to retry and approve it.',
  expired: 'Access denied: the request for access to {host} expired before anyone approved it. Retry to ask again.',
  revoked: 'Access denied: access to {host} was revoked.',
};

/** Replaces every credential value in `text` (an upstream that echoes what it received must not hand the secret back). */
function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/**
 * One brokered request: find the item bound to the URL's host, apply its policy, make sure the
 * caller holds an approved lease (asking a human the first time, and waiting), attach the
 * credential and send the request through the SSRF-safe outbound client. The answer is the
 * upstream's, with any credential value scrubbed out; the credential is never logged.
 */
export async function brokerRequest(ctx: ServiceContext, actor: VaultActor, input: BrokerRequest, signal: AbortSignal): Promise<BrokerOutcome> {
  let url: URL;
  try { url = new URL(input.url); } catch { throw unprocessable('url: is not an absolute URL'); }
  const allow = outboundAllowList(ctx.config);
  const refused = refusedOutboundUrl(url.href, allow);
  if (refused) throw forbidden(`Access denied: destination refused (${refused})`);
  const method = input.method.toUpperCase();

  const { item, host } = await itemFor(ctx, actor, url);
  const denial = policyDenial(item.policy, method, url.pathname);
  if (denial) throw forbidden(denial);
  if (!item.injection) throw unprocessable(`The secret for ${host} has no injection mode; set one (bearer, basic, header or query) on the item`);

  // The caller's usable lease for this host, read with the item and checked against the clock just now.
  let lease: ActiveLeaseRef | VaultLeaseRow | null = item.activeLease;
  const open = lease ? undefined : await openLease(ctx, actor, item.id, host);
  if (open && open.status !== 'pending') lease = open;
  if (!lease) {
    const pending = open
      ?? await requestLease(ctx, actor, { itemId: item.id, hostname: host, reason: `First use of ${host} through the credential broker` });
    if (input.waitForApproval === false) return { kind: 'pending', hostname: host, leaseId: pending.id };
    const decision = await awaitDecision(ctx, pending.id, ctx.config.SESAME_BROKER_APPROVAL_WAIT_SECONDS * 1000, signal);
    if (decision === 'pending') {
      throw forbidden(`Access denied: nobody approved access to ${host} within ${String(ctx.config.SESAME_BROKER_APPROVAL_WAIT_SECONDS)} s; the request stays pending, retry once it is approved`);
    }
    if (decision !== 'approved') throw forbidden(DECISION_REFUSALS[decision].replace('{host}', host));
    lease = pending;
  }

  let fields: Record<string, string>;
  if (lease.status === 'approved') {
    // First use: the vault moves the lease to active (telling the requester) and audits it.
    try {
      ({ fields } = await useSecret(ctx, actor, lease.id));
    } catch (err) {
      // Expired between the look-up and the use: the next request asks again.
      if (err instanceof SesameError && err.kind === 'conflict') throw forbidden(`Access denied: access to ${host} expired; retry to ask for approval again`);
      throw err;
    }
  } else {
    // An active lease, checked against the clock just now (findItemsByHostname, or the cache's
    // check of its expiry): each later use is recorded by the `broker.request` audit entry below
    // rather than a second transaction.
    fields = openItemFields(ctx, item);
  }
  let prepared: PreparedRequest;
  try { prepared = injectCredential(item.injection, fields, url, input.headers ?? {}); } catch (err) {
    if (err instanceof MissingCredentialFieldError) throw unprocessable(err.message);
    throw err;
  }
  const secrets = credentialValues(item.injection, fields);

  let status: number | undefined;
  try {
    const upstream = await sendOutbound({
      method, url: prepared.url, headers: prepared.headers, ...(input.body !== undefined ? { body: input.body } : {}), timeoutMs: ctx.config.SESAME_BROKER_TIMEOUT_MS,
    }, allow);
    status = upstream.status;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(upstream.headers)) if (!DROPPED_RESPONSE_HEADERS.has(name.toLowerCase())) headers[name] = scrub(value, secrets);
    return { kind: 'response', response: { status_code: upstream.status, headers, body: scrub(upstream.body.toString('utf8'), secrets), truncated: upstream.truncated } };
  } catch (err) {
    if (err instanceof OutboundRefusedError) throw forbidden(`Access denied: destination refused (${err.reason})`);
    if (err instanceof OutboundFailedError) throw new SesameError('service-unavailable', `The upstream request failed (${err.reason}): ${err.message}`);
    throw err;
  } finally {
    // Batched with concurrent requests of the workspace (group commit); the answer waits for the commit.
    await appendAuditCommitted(ctx.db, {
      workspaceId: actor.workspaceId, actorId: actor.id, action: 'broker.request', targetType: 'vault_item', targetId: item.id,
      data: { leaseId: lease.id, method, hostname: host, path: url.pathname, statusCode: status ?? null },
    });
  }
}
