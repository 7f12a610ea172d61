import { appendAudit } from '../../../shared/audit.js';
import { assertAcceptablePublicKey } from '../../../shared/auth/ed25519.js';
import { publishRevocation } from '../../../shared/auth/revocations.js';
import { sha256 } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import { isUniqueViolation } from '../../../shared/db/errors.js';
import { conflict, forbidden, unauthorized } from '../../../shared/errors.js';
import { randomToken } from '../../../shared/ids.js';
import { caller, requireAdmin } from '../../../shared/http/authentication.js';
import { authRateLimit } from '../../../shared/http/rate-limits.js';
import { Data, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { iso, principalToWire } from '../../wire.js';
import { vaultActor } from '../vaults/service.js';
import { PrincipalSchema, TokensSchema } from '../auth/schemas.js';
import { issueSession } from '../auth/sessions.js';
import { createDeviceAgent, assertMayGrantVaults } from './device-agent.js';
import { CreateRegistrationTokenBody, DEFAULT_REGISTRATION_TTL_SECONDS, REGISTRATION_TOKEN_PREFIX, RegisterBody, RegistrationTokenSchema } from './schemas.js';

const INVALID_REGISTRATION = 'The registration token is invalid, expired or already used';

/** The token as stored (its SHA-256), whether or not the caller kept the `sesame-register:` prefix. */
function registrationTokenHash(token: string): string {
  const bare = token.trim();
  return sha256(bare.startsWith(REGISTRATION_TOKEN_PREFIX) ? bare : `${REGISTRATION_TOKEN_PREFIX}${bare}`);
}

/**
 * Device registration for the `sesame` CLI: an admin creates a single-use, expiring
 * `sesame-register:` token; `sesame login` spends it with the device's Ed25519 public key and
 * becomes a new agent that signs in by challenge–response from then on. An agent can take
 * itself out again (`sesame agents deregister`). A token may grant vault memberships (checked
 * when it is made: the admin must be allowed to add members), applied in the transaction that
 * spends it. The agent-initiated mode (a claim a human approves) is in `claims.ts`.
 */
export async function registrationRoutes(app: TypedApp, ctx: ServiceContext) {
  app.post('/broker/registration-tokens', {
    config: { scope: 'admin' },
    schema: {
      tags: ['broker'], summary: 'Create a single-use token that registers one agent device (admin); shown once',
      body: CreateRegistrationTokenBody, response: { 201: Data(RegistrationTokenSchema), ...errorResponses },
    },
  }, async (request, reply) => {
    const auth = requireAdmin(request);
    const admin = auth.principal;
    const { handle, ttlSeconds = DEFAULT_REGISTRATION_TTL_SECONDS, vaults = [] } = request.body;
    const token = `${REGISTRATION_TOKEN_PREFIX}${randomToken(32)}`;
    const now = new Date();
    const row = await ctx.db.transaction().execute(async (trx) => {
      await assertMayGrantVaults(trx, vaultActor(auth), vaults);
      const created = await trx.insertInto('broker_registration_tokens').values({
        id: `brt_${randomToken(12)}`, workspace_id: admin.workspace_id, token_hash: registrationTokenHash(token), handle: handle ?? null,
        created_by: admin.id, expires_at: new Date(now.getTime() + ttlSeconds * 1000), created_at: now, vault_grants: JSON.stringify(vaults),
      }).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, {
        workspaceId: admin.workspace_id, actorId: admin.id, action: 'broker.registration_token_created', targetType: 'registration_token', targetId: created.id,
        data: { handle: created.handle, expiresAt: iso(created.expires_at), vaults },
      });
      return created;
    });
    reply.status(201);
    return { data: { id: row.id, token, handle: row.handle, expiresAt: iso(row.expires_at), vaults: row.vault_grants } };
  });

  app.post('/broker/register', {
    config: { public: true, rateLimit: authRateLimit(ctx) },
    schema: {
      tags: ['broker'], summary: 'Register a device\'s Ed25519 key as a new agent with a registration token',
      body: RegisterBody, response: { 201: Data(TokensSchema), ...errorResponses },
    },
  }, async (request, reply) => {
    const body = request.body;
    assertAcceptablePublicKey(body.publicKey);
    const tokenHash = registrationTokenHash(body.token);
    try {
      const agent = await ctx.db.transaction().execute(async (trx) => {
        const now = new Date();
        // Spent atomically: of two concurrent registrations, one finds it used. A failure below
        // (a taken handle) rolls the spend back.
        const spent = await trx.updateTable('broker_registration_tokens').set({ used_at: now })
          .where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', now)
          .returningAll().executeTakeFirst();
        if (!spent) throw unauthorized(INVALID_REGISTRATION);
        const created = await createDeviceAgent(trx, {
          workspaceId: spent.workspace_id, handle: spent.handle ?? body.handle ?? null, displayName: body.displayName ?? null, publicKey: body.publicKey,
          vaults: spent.vault_grants, grantedBy: spent.created_by, via: { registrationTokenId: spent.id },
        });
        await trx.updateTable('broker_registration_tokens').set({ used_by: created.id }).where('id', '=', spent.id).execute();
        return created;
      });
      reply.status(201);
      return { data: await issueSession(ctx, agent) };
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('The handle is already taken in this workspace; choose another handle');
      throw err;
    }
  });

  app.post('/broker/deregister', {
    config: { scope: 'write' },
    schema: { tags: ['broker'], summary: 'Deregister the calling agent: its keys, tokens and connections stop working', response: { 200: Data(PrincipalSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    if (me.kind !== 'agent') throw forbidden('Only an agent can deregister itself; admins disable principals instead');
    const row = await ctx.db.transaction().execute(async (trx) => {
      const updated = await trx.updateTable('principals').set({ disabled_at: new Date() }).where('id', '=', me.id).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, { workspaceId: me.workspace_id, actorId: me.id, action: 'broker.agent_deregistered', targetType: 'principal', targetId: me.id, data: {} });
      return updated;
    });
    await publishRevocation(ctx, { type: 'principal', principalId: me.id });
    return { data: principalToWire(row) };
  });
}
