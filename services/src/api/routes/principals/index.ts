import { Type } from '@sinclair/typebox';
import { appendAudit } from '../../../shared/audit.js';
import { assertAcceptablePublicKey } from '../../../shared/auth/ed25519.js';
import { publishRevocation } from '../../../shared/auth/revocations.js';
import { generateApiKey, hashPassword } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import { isUniqueViolation } from '../../../shared/db/errors.js';
import { conflict, notFound, unprocessable } from '../../../shared/errors.js';
import { newId } from '../../../shared/ids.js';
import { caller, requireAdmin } from '../../../shared/http/authentication.js';
import { Data, IdParams, Page, PageQuery, Text, decodeCursor, encodeCursor, errorResponses, pageOf } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { principalToWire } from '../../wire.js';
import { Email, Handle, Password, PrincipalSchema } from '../auth/schemas.js';

const CreateAgentBody = Type.Object({
  handle: Handle,
  displayName: Type.Optional(Text({ minLength: 1, maxLength: 100 })),
  publicKey: Type.Optional(Text({ minLength: 32, maxLength: 128, description: 'Ed25519 public key, base64 or hex' })),
  isAdmin: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const CreateHumanBody = Type.Object({
  email: Email, password: Password, handle: Handle,
  displayName: Type.Optional(Text({ minLength: 1, maxLength: 100 })), isAdmin: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });

const ListQuery = Type.Object({ ...PageQuery, kind: Type.Optional(Type.Union([Type.Literal('human'), Type.Literal('agent')])) }, { additionalProperties: false });

export async function principalRoutes(app: TypedApp, ctx: ServiceContext) {
  app.post('/agents', {
    config: { scope: 'admin' },
    schema: { tags: ['principals'], summary: 'Create an agent and its first API key (admin)', body: CreateAgentBody, response: { 201: Data(Type.Object({ agent: PrincipalSchema, apiKey: Type.String() })), ...errorResponses } },
  }, async (request, reply) => {
    const admin = requireAdmin(request).principal;
    const body = request.body;
    if (body.publicKey) assertAcceptablePublicKey(body.publicKey);
    const key = generateApiKey();
    try {
      const agent = await ctx.db.transaction().execute(async (trx) => {
        const created = await trx.insertInto('principals').values({
          id: newId('pr'), workspace_id: admin.workspace_id, kind: 'agent', handle: body.handle, display_name: body.displayName ?? body.handle,
          email: null, password_hash: null, public_key: body.publicKey ?? null, is_admin: body.isAdmin ?? false, created_at: new Date(),
        }).returningAll().executeTakeFirstOrThrow();
        await trx.insertInto('api_keys').values({
          id: newId('key'), workspace_id: admin.workspace_id, principal_id: created.id, name: 'default', prefix: key.prefix, key_hash: key.hash,
          scopes: JSON.stringify(['*']), rate_limit_per_minute: null, expires_at: null, created_at: new Date(),
        }).execute();
        await appendAudit(trx, { workspaceId: admin.workspace_id, actorId: admin.id, action: 'agent.created', targetType: 'principal', targetId: created.id, data: { handle: created.handle, keyPrefix: key.prefix } });
        return created;
      });
      reply.status(201);
      return { data: { agent: principalToWire(agent), apiKey: key.key } };
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`The handle '${body.handle}' is taken in this workspace`);
      throw err;
    }
  });

  app.post('/humans', {
    config: { scope: 'admin' },
    schema: { tags: ['principals'], summary: 'Create a human account (admin)', body: CreateHumanBody, response: { 201: Data(Type.Object({ human: PrincipalSchema })), ...errorResponses } },
  }, async (request, reply) => {
    const admin = requireAdmin(request).principal;
    const body = request.body;
    const passwordHash = await hashPassword(body.password);
    try {
      const human = await ctx.db.transaction().execute(async (trx) => {
        const created = await trx.insertInto('principals').values({
          id: newId('pr'), workspace_id: admin.workspace_id, kind: 'human', handle: body.handle, display_name: body.displayName ?? body.handle,
          email: body.email, password_hash: passwordHash, public_key: null, is_admin: body.isAdmin ?? false, created_at: new Date(),
        }).returningAll().executeTakeFirstOrThrow();
        await appendAudit(trx, { workspaceId: admin.workspace_id, actorId: admin.id, action: 'human.created', targetType: 'principal', targetId: created.id, data: { handle: created.handle } });
        return created;
      });
      reply.status(201);
      return { data: { human: principalToWire(human) } };
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('The handle or email is already taken');
      throw err;
    }
  });

  // Disabling is how an admin takes a principal out: every key, token and session of it stops
  // working at once (authentication refuses disabled principals), and open WebSocket/SSE
  // connections are closed through the revocation topic. Enabling undoes it; nothing is deleted.
  for (const action of ['disable', 'enable'] as const) {
    app.post(`/principals/:id/${action}`, {
      config: { scope: 'admin' },
      schema: {
        tags: ['principals'], summary: action === 'disable' ? 'Disable a principal: its credentials stop working and its connections close (admin)' : 'Enable a disabled principal again (admin)',
        params: IdParams, response: { 200: Data(PrincipalSchema), ...errorResponses },
      },
    }, async (request) => {
      const admin = requireAdmin(request).principal;
      const { id } = request.params;
      if (action === 'disable' && id === admin.id) throw unprocessable('id: an admin cannot disable themself');
      const row = await ctx.db.transaction().execute(async (trx) => {
        const updated = await trx.updateTable('principals').set({ disabled_at: action === 'disable' ? new Date() : null })
          .where('id', '=', id).where('workspace_id', '=', admin.workspace_id).returningAll().executeTakeFirst();
        if (!updated) throw notFound('Principal');
        await appendAudit(trx, { workspaceId: admin.workspace_id, actorId: admin.id, action: `principal.${action}d`, targetType: 'principal', targetId: id, data: {} });
        return updated;
      });
      if (action === 'disable') await publishRevocation(ctx, { type: 'principal', principalId: id });
      return { data: principalToWire(row) };
    });
  }

  app.get('/principals', {
    config: { scope: 'read' },
    schema: { tags: ['principals'], summary: 'The workspace directory', querystring: ListQuery, response: { 200: Page(PrincipalSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { limit = 50, cursor, kind } = request.query;
    let query = ctx.db.selectFrom('principals').selectAll().where('workspace_id', '=', me.workspace_id).orderBy('id').limit(limit + 1);
    if (kind) query = query.where('kind', '=', kind);
    if (cursor) query = query.where('id', '>', decodeCursor<{ id: string }>(cursor, { id: 'string' }).id);
    const rows = await query.execute();
    const { page, pagination } = pageOf(rows, limit, (last) => encodeCursor({ id: last.id }));
    return { data: page.map(principalToWire), pagination };
  });

  app.get('/principals/:id', {
    config: { scope: 'read' },
    schema: { tags: ['principals'], summary: 'One principal of the workspace', params: IdParams, response: { 200: Data(PrincipalSchema), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { id } = request.params;
    const row = await ctx.db.selectFrom('principals').selectAll().where('id', '=', id).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
    if (!row) throw notFound('Principal');
    return { data: principalToWire(row) };
  });
}
