import { Type } from '@sinclair/typebox';
import type { Selectable } from 'kysely';
import { appendAudit } from '../../../shared/audit.js';
import { publishRevocation } from '../../../shared/auth/revocations.js';
import { covers, SCOPES } from '../../../shared/auth/scopes.js';
import { generateApiKey } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { ApiKeyTable } from '../../../shared/db/schema.js';
import { forbidden, notFound, unprocessable } from '../../../shared/errors.js';
import { iso } from '../../wire.js';
import { newId } from '../../../shared/ids.js';
import { actsAsAdmin, caller } from '../../../shared/http/authentication.js';
import { Data, Id, IdParams, Nullable, SafeInteger, Text, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';

const Scope = Type.Union(SCOPES.map((scope) => Type.Literal(scope)));
const ApiKeySchema = Type.Object({
  id: Type.String(), name: Type.String(), prefix: Type.String(), principalId: Type.String(), scopes: Type.Array(Type.String()),
  expiresAt: Nullable(Type.String()), lastUsedAt: Nullable(Type.String()), revokedAt: Nullable(Type.String()), createdAt: Type.String(),
}, { $id: 'ApiKey' });

const CreateKeyBody = Type.Object({
  name: Text({ minLength: 1, maxLength: 100 }),
  principalId: Type.Optional(Id),
  scopes: Type.Optional(Type.Array(Scope, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true })),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  rateLimitPerMinute: Type.Optional(SafeInteger({ minimum: 1, maximum: 100_000 })),
}, { additionalProperties: false });

function keyToWire(k: Selectable<ApiKeyTable>) {
  return {
    id: k.id, name: k.name, prefix: k.prefix, principalId: k.principal_id, scopes: k.scopes,
    expiresAt: iso(k.expires_at), lastUsedAt: iso(k.last_used_at), revokedAt: iso(k.revoked_at), createdAt: iso(k.created_at),
  };
}

export async function keyRoutes(app: TypedApp, ctx: ServiceContext) {
  app.post('/keys', {
    config: { scope: 'write' },
    schema: { tags: ['keys'], summary: 'Create an API key (shown once)', body: CreateKeyBody, response: { 201: Data(Type.Object({ key: ApiKeySchema, apiKey: Type.String() })), ...errorResponses } },
  }, async (request, reply) => {
    const auth = caller(request);
    const me = auth.principal;
    const body = request.body;
    const principalId = body.principalId ?? me.id;
    const scopes = body.scopes ?? ['*'];
    if (auth.apiKey && !covers(auth.apiKey.scopes, scopes)) throw forbidden('An API key cannot create a key with scopes wider than its own');
    if (principalId !== me.id && !actsAsAdmin(auth)) throw forbidden('Only admins create keys for other principals');
    if (body.scopes?.includes('admin') && !actsAsAdmin(auth)) throw forbidden('Only admins create keys with the admin scope');
    const owner = await ctx.db.selectFrom('principals').select('id').where('id', '=', principalId).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
    if (!owner) throw notFound('Principal');
    if (body.expiresAt && new Date(body.expiresAt).getTime() <= Date.now()) throw unprocessable('expiresAt: must be in the future');
    const key = generateApiKey();
    const row = await ctx.db.transaction().execute(async (trx) => {
      const created = await trx.insertInto('api_keys').values({
        id: newId('key'), workspace_id: me.workspace_id, principal_id: principalId, name: body.name, prefix: key.prefix, key_hash: key.hash,
        scopes: JSON.stringify(scopes), rate_limit_per_minute: body.rateLimitPerMinute ?? null,
        expires_at: body.expiresAt ? new Date(body.expiresAt) : null, created_at: new Date(),
      }).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, { workspaceId: me.workspace_id, actorId: me.id, action: 'api_key.created', targetType: 'api_key', targetId: created.id, data: { principalId, prefix: key.prefix, scopes } });
      return created;
    });
    reply.status(201);
    return { data: { key: keyToWire(row), apiKey: key.key } };
  });

  app.get('/keys', {
    config: { scope: 'read' },
    schema: { tags: ['keys'], summary: 'List API keys (own; admins: any principal)', querystring: Type.Object({ principalId: Type.Optional(Id) }, { additionalProperties: false }), response: { 200: Data(Type.Array(ApiKeySchema)), ...errorResponses } },
  }, async (request) => {
    const auth = caller(request);
    const me = auth.principal;
    const { principalId } = request.query;
    if (principalId && principalId !== me.id && !actsAsAdmin(auth)) throw forbidden('Only admins list other principals\' keys');
    let query = ctx.db.selectFrom('api_keys').selectAll().where('workspace_id', '=', me.workspace_id).orderBy('created_at', 'desc');
    if (principalId || !actsAsAdmin(auth)) query = query.where('principal_id', '=', principalId ?? me.id);
    return { data: (await query.execute()).map(keyToWire) };
  });

  app.delete('/keys/:id', {
    config: { scope: 'write' },
    schema: { tags: ['keys'], summary: 'Revoke an API key (immediate)', params: IdParams, response: { 200: Data(ApiKeySchema), ...errorResponses } },
  }, async (request) => {
    const auth = caller(request);
    const me = auth.principal;
    const { id } = request.params;
    const existing = await ctx.db.selectFrom('api_keys').selectAll().where('id', '=', id).where('workspace_id', '=', me.workspace_id).executeTakeFirst();
    if (!existing || (existing.principal_id !== me.id && !actsAsAdmin(auth))) throw notFound('API key');
    const row = await ctx.db.transaction().execute(async (trx) => {
      const revoked = await trx.updateTable('api_keys').set({ revoked_at: existing.revoked_at ?? new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, { workspaceId: me.workspace_id, actorId: me.id, action: 'api_key.revoked', targetType: 'api_key', targetId: id, data: { prefix: existing.prefix } });
      return revoked;
    });
    // After commit: every gateway closes the connections opened with this key at once.
    await publishRevocation(ctx, { type: 'api-key', apiKeyId: id, principalId: existing.principal_id });
    return { data: keyToWire(row) };
  });
}
