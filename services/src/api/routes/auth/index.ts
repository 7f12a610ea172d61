import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { sql } from 'kysely';
import { appendAudit } from '../../../shared/audit.js';
import { consumeSignedChallenge, findPrincipalByHandle } from '../../../shared/auth/challenge.js';
import { createLoginThrottle } from '../../../shared/auth/login-throttle.js';
import { hashPassword, sha256, verifyAgainstDummy, verifyPassword } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import { isUniqueViolation } from '../../../shared/db/errors.js';
import type { Principal } from '../../../shared/db/schema.js';
import { conflict, forbidden, unauthorized } from '../../../shared/errors.js';
import { newId, randomToken } from '../../../shared/ids.js';
import { caller } from '../../../shared/http/authentication.js';
import { authRateLimit } from '../../../shared/http/rate-limits.js';
import { Data, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { principalToWire } from '../../wire.js';
import { AcceptInviteBody, ChallengeBody, LoginBody, PrincipalSchema, RefreshBody, SignupBody, TokensSchema, VerifyBody } from './schemas.js';
import { issueSession, refreshSession } from './sessions.js';

const NONCE_TTL_MS = 60_000;
const INVALID_SIGNATURE = 'The handle, nonce or signature is invalid';
/** One answer for an unknown email and a wrong password, so login does not tell which emails exist. */
const INVALID_LOGIN = 'The email or password is incorrect';
const INVALID_INVITE = 'The invite is invalid, expired, revoked or already used';
/**
 * Accounts one email may hold across workspaces that a login checks (oldest first). Each costs a
 * password hash, so the work stays bounded whatever signup allowed.
 */
const MAX_ACCOUNTS_PER_EMAIL = 5;

/** A handle from an email's local part when none is given (`Ada.L@x` → `ada.l`). */
function handleFromEmail(email: string): string {
  return email.split('@')[0].toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 64) || 'human';
}

/**
 * `/auth/me`'s answer per principal row, serialized by the route's response schema: a cached
 * credential keeps its row object (a changed principal is a new row, the cache drops the old
 * one), so a busy key's answer is mapped and serialized once.
 */
const meBodies = new WeakMap<Principal, string>();

export async function authRoutes(app: TypedApp, ctx: ServiceContext) {
  const publicAuth = { public: true, rateLimit: authRateLimit(ctx) };
  const loginThrottle = createLoginThrottle(ctx);
  app.addHook('onClose', async () => { await loginThrottle.close(); });

  const findAgent = (handle: string, workspaceId?: string) => findPrincipalByHandle(ctx.db, handle, workspaceId);

  app.post('/auth/challenge', {
    config: publicAuth,
    schema: { tags: ['auth'], summary: 'Start Ed25519 challenge–response', body: ChallengeBody, response: { 200: Data(Type.Object({ nonce: Type.String(), expiresAt: Type.String() })), ...errorResponses } },
  }, async (request) => {
    const { handle, workspaceId } = request.body;
    const nonce = randomToken(24);
    const expiresAt = new Date(Date.now() + NONCE_TTL_MS);
    const agent = await findAgent(handle, workspaceId);
    // Unknown handles get a nonce too, so the endpoint does not reveal which handles exist.
    if (agent?.public_key) {
      await ctx.db.insertInto('auth_challenges').values({ nonce, principal_id: agent.id, expires_at: expiresAt }).execute();
    }
    return { data: { nonce, expiresAt: expiresAt.toISOString() } };
  });

  app.post('/auth/verify', {
    config: publicAuth,
    schema: { tags: ['auth'], summary: 'Exchange a signed nonce for tokens', body: VerifyBody, response: { 200: Data(TokensSchema), ...errorResponses } },
  }, async (request) => {
    const { handle, nonce, signature, workspaceId } = request.body;
    const agent = await findAgent(handle, workspaceId);
    if (!agent || !(await consumeSignedChallenge(ctx.db, agent, handle, nonce, signature))) throw unauthorized(INVALID_SIGNATURE);
    return { data: await issueSession(ctx, agent) };
  });

  app.post('/auth/refresh', {
    config: publicAuth,
    schema: { tags: ['auth'], summary: 'Rotate a refresh token for new tokens', body: RefreshBody, response: { 200: Data(TokensSchema), ...errorResponses } },
  }, async (request) => {
    const { refreshToken } = request.body;
    return { data: await refreshSession(ctx, refreshToken) };
  });

  app.post('/auth/signup', {
    config: publicAuth,
    schema: { tags: ['auth'], summary: 'Create a workspace and its first admin (a human)', body: SignupBody, response: { 201: Data(TokensSchema), ...errorResponses } },
  }, async (request, reply) => {
    // Without SESAME_ALLOW_SIGNUP, signup only creates the first admin (setup); afterwards humans
    // join by invite. Checked before hashing so a closed signup costs nothing.
    const signupClosed = () => forbidden('Signup is closed on this server: ask an admin of your workspace for an invite');
    if (!ctx.config.SESAME_ALLOW_SIGNUP && (await anyAdminExists(ctx.db))) throw signupClosed();
    const body = request.body;
    // A new workspace holds no one yet, so no email or handle can conflict: signup says nothing
    // about accounts in other workspaces (emails are unique per workspace).
    const passwordHash = await hashPassword(body.password);
    const workspaceId = newId('ws');
    const principal = await ctx.db.transaction().execute(async (trx) => {
      if (!ctx.config.SESAME_ALLOW_SIGNUP) {
        // The bootstrap's lock: of concurrent first signups (or a signup racing the bootstrap), one wins.
        await sql`SELECT pg_advisory_xact_lock(hashtext('sesame:bootstrap'))`.execute(trx);
        if (await anyAdminExists(trx)) throw signupClosed();
      }
      await trx.insertInto('workspaces').values({ id: workspaceId, name: body.workspaceName ?? `${body.displayName}'s workspace`, settings: '{}', created_at: new Date() }).execute();
      const created = await trx.insertInto('principals').values({
        id: newId('pr'), workspace_id: workspaceId, kind: 'human', handle: body.handle ?? handleFromEmail(body.email), display_name: body.displayName,
        email: body.email, password_hash: passwordHash, public_key: null, is_admin: true, created_at: new Date(),
      }).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, { workspaceId, actorId: created.id, action: 'workspace.created', targetType: 'workspace', targetId: workspaceId });
      return created;
    });
    reply.status(201);
    return { data: await issueSession(ctx, principal) };
  });

  app.post('/auth/login', {
    config: publicAuth,
    schema: { tags: ['auth'], summary: 'Human password login', body: LoginBody, response: { 200: Data(TokensSchema), ...errorResponses } },
  }, async (request) => {
    const { email, password, workspaceId } = request.body;
    await loginThrottle.assertAllowed(email);
    let query = ctx.db.selectFrom('principals').selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase())).where('disabled_at', 'is', null).where('password_hash', 'is not', null)
      .orderBy('created_at').orderBy('id').limit(MAX_ACCOUNTS_PER_EMAIL);
    if (workspaceId) query = query.where('workspace_id', '=', workspaceId);
    const accounts = await query.execute();
    // The same work whether or not the email exists: one hash for an unknown email, one per
    // account otherwise, each checked (no early exit). The oldest matching account wins;
    // `workspaceId` picks another.
    let match: Principal | undefined;
    if (accounts.length === 0) await verifyAgainstDummy(password);
    for (const account of accounts) {
      if (account.password_hash && (await verifyPassword(password, account.password_hash)) && !match) match = account;
    }
    if (!match) {
      await loginThrottle.recordFailure(email);
      throw unauthorized(INVALID_LOGIN);
    }
    await loginThrottle.recordSuccess(email);
    return { data: await issueSession(ctx, match) };
  });

  app.post('/auth/accept-invite', {
    config: publicAuth,
    schema: { tags: ['auth'], summary: 'Join a workspace with an invite token', body: AcceptInviteBody, response: { 201: Data(TokensSchema), ...errorResponses } },
  }, async (request, reply) => {
    const body = request.body;
    const tokenHash = sha256(body.token);
    // Looked up before hashing the password, so a wrong token costs no hash.
    const pending = await ctx.db.selectFrom('invites').select('id').where('token_hash', '=', tokenHash)
      .where('accepted_at', 'is', null).where('revoked_at', 'is', null).where('expires_at', '>', new Date()).executeTakeFirst();
    if (!pending) throw unauthorized(INVALID_INVITE);
    const passwordHash = await hashPassword(body.password);
    try {
      const principal = await ctx.db.transaction().execute(async (trx) => {
        const now = new Date();
        // Spent atomically: of two concurrent accepts, one finds it already used. A failure
        // below rolls the spend back, so a taken handle can be retried with another.
        const invite = await trx.updateTable('invites').set({ accepted_at: now })
          .where('token_hash', '=', tokenHash).where('accepted_at', 'is', null).where('revoked_at', 'is', null).where('expires_at', '>', now)
          .returningAll().executeTakeFirst();
        if (!invite) throw unauthorized(INVALID_INVITE);
        const created = await trx.insertInto('principals').values({
          id: newId('pr'), workspace_id: invite.workspace_id, kind: 'human', handle: body.handle ?? handleFromEmail(invite.email),
          display_name: body.displayName, email: invite.email, password_hash: passwordHash, public_key: null, is_admin: invite.is_admin, created_at: now,
        }).returningAll().executeTakeFirstOrThrow();
        await trx.updateTable('invites').set({ accepted_by: created.id }).where('id', '=', invite.id).execute();
        await appendAudit(trx, {
          workspaceId: invite.workspace_id, actorId: created.id, action: 'invite.accepted', targetType: 'invite', targetId: invite.id,
          data: { principalId: created.id, handle: created.handle, isAdmin: created.is_admin },
        });
        return created;
      });
      reply.status(201);
      return { data: await issueSession(ctx, principal) };
    } catch (err) {
      // Handles and emails are unique per workspace: this conflict is about the inviting
      // workspace only, never another one.
      if (isUniqueViolation(err)) throw conflict('The handle or email is already taken in this workspace; choose another handle');
      throw err;
    }
  });

  app.get('/auth/me', {
    config: { scope: 'read' },
    schema: { tags: ['auth'], summary: 'The caller', response: { 200: Data(PrincipalSchema), ...errorResponses } },
  }, (request, reply) => {
    const { principal } = caller(request);
    let body = meBodies.get(principal);
    // The route's JSON serializer (its 200 schema) answers a string.
    if (body === undefined) meBodies.set(principal, body = reply.serialize({ data: principalToWire(principal) }) as string);
    // Already serialized by the schema: sent as is (a string is not serialized again).
    void (reply as FastifyReply).type('application/json; charset=utf-8').send(body);
  });
}

/** Setup is complete once any admin was ever created (as `GET /setup/status` answers). */
async function anyAdminExists(db: Pick<ServiceContext['db'], 'selectFrom'>): Promise<boolean> {
  return Boolean(await db.selectFrom('principals').select('id').where('is_admin', '=', true).limit(1).executeTakeFirst());
}
