import { createHash, randomInt } from 'node:crypto';
import { CLAIM_POLL_SIGNATURE_PREFIX } from '@sesamespace/sdk/protocol';
import { appendAudit } from '../../../shared/audit.js';
import { assertAcceptablePublicKey, verifySignature } from '../../../shared/auth/ed25519.js';
import { sha256 } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { BrokerClaimTable } from '../../../shared/db/schema.js';
import { isUniqueViolation } from '../../../shared/db/errors.js';
import { conflict, notFound, SesameError, unauthorized } from '../../../shared/errors.js';
import { requireAdmin } from '../../../shared/http/authentication.js';
import { addressKey } from '../../../shared/http/client-address.js';
import { authRateLimit } from '../../../shared/http/rate-limits.js';
import { Data, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { randomToken } from '../../../shared/ids.js';
import type { FastifyRequest } from 'fastify';
import type { Selectable } from 'kysely';
import { iso } from '../../wire.js';
import { issueSession } from '../auth/sessions.js';
import { publicBaseUrl } from '../drive/files.js';
import { vaultActor } from '../vaults/service.js';
import {
  ApproveClaimBody, CLAIM_CODE_ATTEMPTS_PER_MINUTE, CLAIM_POLL_INTERVAL_SECONDS, CLAIM_TTL_SECONDS, ClaimPollSchema, ClaimSchema, ClaimStartSchema, DenyClaimBody,
  MAX_PENDING_CLAIMS, MAX_PENDING_CLAIMS_PER_ADDRESS, OpenClaimBody, PollClaimBody, UserCodeParams,
} from './claim-schemas.js';
import { assertMayGrantVaults, createDeviceAgent } from './device-agent.js';

/** Per workspace (an admin's many keys share it), per route: see CLAIM_CODE_ATTEMPTS_PER_MINUTE. */
const CLAIM_CODE_RATE_LIMIT = {
  max: CLAIM_CODE_ATTEMPTS_PER_MINUTE, timeWindow: 60_000,
  keyGenerator: (request: FastifyRequest) => `claim-code:${request.auth?.principal.workspace_id ?? addressKey(request.ip)}`,
};

type ClaimRow = Selectable<BrokerClaimTable>;

/** RFC 8628 §6.1: consonants only (no vowels, so no words; no look-alikes), 20^8 ≈ 2^34.6 codes. */
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const USER_CODE_LENGTH = 8;
/** A faster poll than the interval answers `slow_down` and adds this many seconds (RFC 8628 §3.5). */
const SLOW_DOWN_STEP_SECONDS = 5;
const MAX_INTERVAL_SECONDS = 60;
/** Decided and expired claims are kept this long (the console can still show them), then deleted. */
const CLAIM_RETENTION_MS = 24 * 3600 * 1000;

function newUserCode(): string {
  let code = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/** `abcd-efgh`, `ABCD EFGH` → `ABCDEFGH` (what is stored). */
const normaliseUserCode = (code: string) => code.toUpperCase().replace(/[^A-Z]/g, '');
const displayUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/** What `sesame status` prints for the key: SHA-256 of its 32 bytes, hex, first 32 characters. */
function keyFingerprint(publicKey: string): string {
  const key = publicKey.trim();
  const bytes = /^[0-9a-fA-F]{64}$/.test(key) ? Buffer.from(key, 'hex') : Buffer.from(key, 'base64');
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
}

function claimStatus(row: ClaimRow, now: Date): 'pending' | 'approved' | 'denied' | 'expired' {
  if (row.status === 'pending' && row.expires_at <= now) return 'expired';
  return row.status;
}

function claimToWire(row: ClaimRow, now = new Date()) {
  return {
    id: row.id, userCode: displayUserCode(row.user_code), status: claimStatus(row, now), handle: row.handle, displayName: row.display_name,
    fingerprint: keyFingerprint(row.public_key), publicKey: row.public_key, createdAt: iso(row.created_at), expiresAt: iso(row.expires_at),
    decidedAt: row.decided_at ? iso(row.decided_at) : null, agentId: row.principal_id,
  };
}

/** A poll's terminal answer, with RFC 8628's error code beside the Problem Details (`claimStatus`). */
const claimDenied = (reason: string | null) => new SesameError('forbidden', `access_denied: an admin denied this agent's registration${reason ? ` (${reason})` : ''}`, { claimStatus: 'access_denied' });
const claimExpired = (detail: string) => new SesameError('bad-request', `expired_token: ${detail}; run sesame login again`, { claimStatus: 'expired_token' });

/**
 * Agent-initiated registration, the default of `sesame login` (Mode B), on the model of the
 * OAuth 2.0 Device Authorization Grant (RFC 8628). The device opens a claim with its Ed25519
 * public key (no credential; rate-limited per address, pending claims capped per address and per
 * server, expiring after 10 minutes) and gets a secret device code and a short user code; it
 * polls with the device code signed by its key. A workspace admin opens the claim URL in the
 * console, checks the code and the device fingerprint, picks the handle (and vault grants) and
 * approves or denies.
 *
 * Workspaces: a pending claim belongs to no workspace. The user code is the capability: an
 * admin who has it (from whoever runs the agent) may look it up and decide it, and the deciding
 * admin's workspace becomes the claim's — the agent is created there. Once decided, admins of
 * other workspaces get 404 for it, as for anything of another workspace. Pending claims are never
 * listed, so an admin sees no claim they were not handed the code of. Knowing the user code
 * gives no credential: tokens are issued only to a poll carrying the device code and a
 * signature by the device key, once.
 */
export async function claimRoutes(app: TypedApp, ctx: ServiceContext) {
  app.post('/broker/claims', {
    config: { public: true, rateLimit: authRateLimit(ctx) },
    schema: {
      tags: ['broker'], summary: 'Open a claim: a device asks a human to approve it as a new agent (RFC 8628 device authorization; no credential)',
      body: OpenClaimBody, response: { 201: Data(ClaimStartSchema), ...errorResponses },
    },
  }, async (request, reply) => {
    const body = request.body;
    assertAcceptablePublicKey(body.publicKey);
    const now = new Date();
    await ctx.db.deleteFrom('broker_claims').where('expires_at', '<', new Date(now.getTime() - CLAIM_RETENTION_MS)).execute();
    // Counted per /64 for IPv6 (addressKey): one client commonly holds a whole /64.
    const address = addressKey(request.ip);
    const pending = await ctx.db.selectFrom('broker_claims')
      .select((eb) => [eb.fn.countAll<string>().as('all'), eb.fn.count<string>(eb.case().when('requester_address', '=', address).then(1).end()).as('mine')])
      .where('status', '=', 'pending').where('expires_at', '>', now).executeTakeFirstOrThrow();
    if (Number(pending.mine) >= MAX_PENDING_CLAIMS_PER_ADDRESS) {
      throw new SesameError('rate-limited', `This address already has ${MAX_PENDING_CLAIMS_PER_ADDRESS} pending claims; approve them or let them expire`, { retryAfter: CLAIM_TTL_SECONDS });
    }
    if (Number(pending.all) >= MAX_PENDING_CLAIMS) throw new SesameError('rate-limited', 'Too many pending claims on this server; try again later', { retryAfter: 60 });
    const deviceCode = randomToken(32);
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode();
      try {
        await ctx.db.insertInto('broker_claims').values({
          id: `bcl_${randomToken(12)}`, device_code_hash: sha256(deviceCode), user_code: userCode, public_key: body.publicKey.trim(),
          handle: body.handle ?? null, display_name: body.displayName ?? null, requester_address: address, status: 'pending',
          poll_interval_seconds: CLAIM_POLL_INTERVAL_SECONDS, expires_at: new Date(now.getTime() + CLAIM_TTL_SECONDS * 1000), created_at: now,
        }).execute();
      } catch (err) {
        // A user code still held by another claim: draw again.
        if (isUniqueViolation(err) && attempt < 3) continue;
        throw err;
      }
      const verificationUri = `${publicBaseUrl(ctx, request)}/claim`;
      reply.status(201);
      return {
        data: {
          deviceCode, userCode: displayUserCode(userCode), verificationUri, verificationUriComplete: `${verificationUri}/${displayUserCode(userCode)}`,
          expiresIn: CLAIM_TTL_SECONDS, interval: CLAIM_POLL_INTERVAL_SECONDS,
        },
      };
    }
  });

  app.post('/broker/claims/token', {
    config: { public: true },
    schema: {
      tags: ['broker'],
      summary: 'Poll a claim with the device code signed by the device key: pending, slow_down, or the new agent\'s tokens (once); 403 denied, 400 expired',
      body: PollClaimBody, response: { 200: Data(ClaimPollSchema), ...errorResponses },
    },
  }, async (request) => {
    const { deviceCode, signature } = request.body;
    const found = await ctx.db.selectFrom('broker_claims').selectAll().where('device_code_hash', '=', sha256(deviceCode)).executeTakeFirst();
    // The same answer for an unknown code and a bad signature: neither says whether the code exists.
    if (!found || !verifySignature(found.public_key, new TextEncoder().encode(`${CLAIM_POLL_SIGNATURE_PREFIX}${deviceCode}`), signature)) {
      throw unauthorized('Unknown device code, or the signature is not the device key\'s');
    }
    const outcome = await ctx.db.transaction().execute(async (trx) => {
      // Locked: of two concurrent polls after approval, one gets the tokens.
      const claim = await trx.selectFrom('broker_claims').selectAll().where('id', '=', found.id).forUpdate().executeTakeFirstOrThrow();
      const now = new Date();
      if (claim.status === 'denied') throw claimDenied(claim.deny_reason);
      if (claim.status === 'approved') {
        if (claim.redeemed_at) throw claimExpired('this claim was already used');
        const decidedAt = claim.decided_at ?? now;
        if (decidedAt.getTime() + CLAIM_TTL_SECONDS * 1000 <= now.getTime() || !claim.principal_id) throw claimExpired('the approved claim was not collected in time');
        await trx.updateTable('broker_claims').set({ redeemed_at: now }).where('id', '=', claim.id).execute();
        return { approved: true as const, agentId: claim.principal_id };
      }
      if (claim.expires_at <= now) throw claimExpired('nobody approved this agent in time');
      const tooSoon = claim.last_polled_at && now.getTime() - claim.last_polled_at.getTime() < claim.poll_interval_seconds * 1000 - 500;
      const interval = tooSoon ? Math.min(MAX_INTERVAL_SECONDS, claim.poll_interval_seconds + SLOW_DOWN_STEP_SECONDS) : claim.poll_interval_seconds;
      await trx.updateTable('broker_claims').set({ last_polled_at: now, poll_interval_seconds: interval }).where('id', '=', claim.id).execute();
      return { approved: false as const, answer: { status: tooSoon ? 'slow_down' as const : 'authorization_pending' as const, interval } };
    });
    if (!outcome.approved) return { data: outcome.answer };
    const agent = await ctx.db.selectFrom('principals').selectAll().where('id', '=', outcome.agentId).where('disabled_at', 'is', null).executeTakeFirst();
    if (!agent) throw claimExpired('the approved agent was removed');
    return { data: { status: 'approved' as const, tokens: await issueSession(ctx, agent) } };
  });

  /** The claim by user code, as the caller's workspace may see it: pending (unbound) or decided in its workspace. */
  const visibleClaim = (workspaceId: string, userCode: string) => ctx.db.selectFrom('broker_claims').selectAll()
    .where('user_code', '=', normaliseUserCode(userCode))
    .where((eb) => eb.or([eb('workspace_id', 'is', null), eb('workspace_id', '=', workspaceId)]))
    .executeTakeFirst();

  app.get('/broker/claims/:userCode', {
    config: { scope: 'admin', rateLimit: CLAIM_CODE_RATE_LIMIT },
    schema: {
      tags: ['broker'], summary: 'A claim by its user code (admin): what to check before approving; 404 once decided in another workspace',
      params: UserCodeParams, response: { 200: Data(ClaimSchema), ...errorResponses },
    },
  }, async (request) => {
    const admin = requireAdmin(request).principal;
    const claim = await visibleClaim(admin.workspace_id, request.params.userCode);
    if (!claim) throw notFound('Claim');
    return { data: claimToWire(claim) };
  });

  /** Why a pending-only decision found nothing: 404 when the caller cannot see the claim, else 409 naming its state. */
  async function undecidable(workspaceId: string, userCode: string): Promise<SesameError> {
    const claim = await visibleClaim(workspaceId, userCode);
    if (!claim) return notFound('Claim');
    const status = claimStatus(claim, new Date());
    return conflict(status === 'expired' ? 'The claim expired; the device must run sesame login again' : `The claim was already ${status}`);
  }

  app.post('/broker/claims/:userCode/approve', {
    config: { scope: 'admin', rateLimit: CLAIM_CODE_RATE_LIMIT },
    schema: {
      tags: ['broker'], summary: 'Approve a claim (admin): the device becomes an agent of your workspace, with the vault grants given; once',
      params: UserCodeParams, body: ApproveClaimBody, response: { 200: Data(ClaimSchema), ...errorResponses },
    },
  }, async (request) => {
    const auth = requireAdmin(request);
    const admin = auth.principal;
    const body = request.body;
    const vaults = body.vaults ?? [];
    try {
      const row = await ctx.db.transaction().execute(async (trx) => {
        await assertMayGrantVaults(trx, vaultActor(auth), vaults);
        const now = new Date();
        // Decided atomically: of two concurrent approvals, one finds it pending. A failure below
        // (a taken handle) rolls the decision back and the claim stays pending.
        const claim = await trx.updateTable('broker_claims').set({ status: 'approved', workspace_id: admin.workspace_id, decided_by: admin.id, decided_at: now })
          .where('user_code', '=', normaliseUserCode(request.params.userCode)).where('status', '=', 'pending').where('expires_at', '>', now)
          .returningAll().executeTakeFirst();
        if (!claim) return undefined;
        const agent = await createDeviceAgent(trx, {
          workspaceId: admin.workspace_id, handle: body.handle ?? claim.handle, displayName: body.displayName ?? claim.display_name, publicKey: claim.public_key,
          vaults, grantedBy: admin.id, via: { claimId: claim.id },
        });
        await appendAudit(trx, {
          workspaceId: admin.workspace_id, actorId: admin.id, action: 'broker.claim_approved', targetType: 'principal', targetId: agent.id,
          data: { claimId: claim.id, handle: agent.handle, fingerprint: keyFingerprint(claim.public_key) },
        });
        return trx.updateTable('broker_claims').set({ principal_id: agent.id }).where('id', '=', claim.id).returningAll().executeTakeFirstOrThrow();
      });
      if (!row) throw await undecidable(admin.workspace_id, request.params.userCode);
      return { data: claimToWire(row) };
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('The handle is already taken in this workspace; choose another handle');
      throw err;
    }
  });

  app.post('/broker/claims/:userCode/deny', {
    config: { scope: 'admin', rateLimit: CLAIM_CODE_RATE_LIMIT },
    schema: {
      tags: ['broker'], summary: 'Deny a claim (admin): the device\'s sesame login stops with access_denied',
      params: UserCodeParams, body: DenyClaimBody, response: { 200: Data(ClaimSchema), ...errorResponses },
    },
  }, async (request) => {
    const admin = requireAdmin(request).principal;
    const reason = request.body.reason ?? null;
    const row = await ctx.db.transaction().execute(async (trx) => {
      const now = new Date();
      const claim = await trx.updateTable('broker_claims').set({ status: 'denied', workspace_id: admin.workspace_id, decided_by: admin.id, decided_at: now, deny_reason: reason })
        .where('user_code', '=', normaliseUserCode(request.params.userCode)).where('status', '=', 'pending').where('expires_at', '>', now)
        .returningAll().executeTakeFirst();
      if (!claim) return undefined;
      await appendAudit(trx, {
        workspaceId: admin.workspace_id, actorId: admin.id, action: 'broker.claim_denied', targetType: 'claim', targetId: claim.id,
        data: { fingerprint: keyFingerprint(claim.public_key), reason },
      });
      return claim;
    });
    if (!row) throw await undecidable(admin.workspace_id, request.params.userCode);
    return { data: claimToWire(row) };
  });
}
