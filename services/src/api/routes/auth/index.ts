import { Type } from '@sinclair/typebox';
import { appendAudit } from '../../../shared/audit.js';
import { consumeSignedChallenge, findPrincipalByHandle } from '../../../shared/auth/challenge.js';
import { hashPassword, verifyPassword } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import { conflict, forbidden, unauthorized } from '../../../shared/errors.js';
import { newId, randomToken } from '../../../shared/ids.js';
import { caller } from '../../../shared/http/authentication.js';
import { authRateLimit } from '../../../shared/http/rate-limits.js';
import { Data, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { principalToWire } from '../../wire.js';
import { ChallengeBody, LoginBody, PrincipalSchema, RefreshBody, SignupBody, TokensSchema, VerifyBody } from './schemas.js';
import { issueSession, refreshSession } from './sessions.js';

const NONCE_TTL_MS = 60_000;
const INVALID_SIGNATURE = 'The handle, nonce or signature is invalid';

export async function authRoutes(app: TypedApp, ctx: ServiceContext) {
  const publicAuth = { public: true, rateLimit: authRateLimit(ctx) };

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
    if (!ctx.config.SESAME_ALLOW_SIGNUP) throw forbidden('Signup is disabled on this server; ask an admin for an account');
    const body = request.body;
    const existing = await ctx.db.selectFrom('principals').select('id').where((eb) => eb(eb.fn('lower', ['email']), '=', body.email.toLowerCase())).executeTakeFirst();
    if (existing) throw conflict('An account with this email already exists');
    const passwordHash = await hashPassword(body.password);
    const workspaceId = newId('ws');
    const handle = body.handle ?? body.email.split('@')[0]!.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '') ?? 'admin';
    const principal = await ctx.db.transaction().execute(async (trx) => {
      await trx.insertInto('workspaces').values({ id: workspaceId, name: body.workspaceName ?? `${body.displayName}'s workspace`, settings: '{}', created_at: new Date() }).execute();
      const created = await trx.insertInto('principals').values({
        id: newId('pr'), workspace_id: workspaceId, kind: 'human', handle: handle || 'admin', display_name: body.displayName,
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
    const { email, password } = request.body;
    const principal = await ctx.db.selectFrom('principals').selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase())).where('disabled_at', 'is', null).executeTakeFirst();
    const ok = principal?.password_hash ? await verifyPassword(password, principal.password_hash) : false;
    if (!principal || !ok) throw unauthorized('The email or password is incorrect');
    return { data: await issueSession(ctx, principal) };
  });

  app.get('/auth/me', {
    config: { scope: 'read' },
    schema: { tags: ['auth'], summary: 'The caller', response: { 200: Data(PrincipalSchema), ...errorResponses } },
  }, async (request) => ({ data: principalToWire(caller(request).principal) }));
}
