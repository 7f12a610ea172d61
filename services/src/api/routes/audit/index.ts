import { Type } from '@sinclair/typebox';
import { verifyAuditChain } from '../../../shared/audit.js';
import type { ServiceContext } from '../../../shared/context.js';
import { requireAdmin } from '../../../shared/http/authentication.js';
import { Data, Nullable, Page, PageQuery, Text, decodeCursor, encodeCursor, errorResponses, pageOf } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';

const AuditEntry = Type.Object({
  id: Type.Integer(), actorId: Nullable(Type.String()), action: Type.String(), targetType: Nullable(Type.String()), targetId: Nullable(Type.String()),
  data: Type.Object({}, { additionalProperties: true }), at: Type.String(), prevHash: Type.String(), hash: Type.String(),
});

/** The workspace's append-only, hash-chained audit log (admins only). */
export async function auditRoutes(app: TypedApp, ctx: ServiceContext) {
  app.get('/audit', {
    config: { scope: 'admin' },
    schema: {
      tags: ['audit'], summary: 'Audit entries, newest first',
      querystring: Type.Object({ ...PageQuery, action: Type.Optional(Text({ maxLength: 100 })) }, { additionalProperties: false }),
      response: { 200: Page(AuditEntry), ...errorResponses },
    },
  }, async (request) => {
    const admin = requireAdmin(request).principal;
    const { limit = 50, cursor, action } = request.query;
    let query = ctx.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', admin.workspace_id).orderBy('id', 'desc').limit(limit + 1);
    if (action) query = query.where('action', '=', action);
    if (cursor) query = query.where('id', '<', decodeCursor<{ id: number }>(cursor, { id: 'number' }).id);
    const rows = await query.execute();
    const { page, pagination } = pageOf(rows, limit, (last) => encodeCursor({ id: last.id }));
    return {
      data: page.map((r) => ({
        id: r.id, actorId: r.actor_id, action: r.action, targetType: r.target_type, targetId: r.target_id, data: r.data,
        at: new Date(r.at).toISOString(), prevHash: r.prev_hash, hash: r.hash,
      })),
      pagination,
    };
  });

  app.get('/audit/verify', {
    config: { scope: 'admin' },
    schema: { tags: ['audit'], summary: 'Recompute the hash chain', response: { 200: Data(Type.Object({ valid: Type.Boolean(), entries: Type.Integer(), firstInvalidId: Nullable(Type.Integer()) })), ...errorResponses } },
  }, async (request) => {
    const admin = requireAdmin(request).principal;
    const rows = await ctx.db.selectFrom('audit_log').selectAll().where('workspace_id', '=', admin.workspace_id).orderBy('id', 'asc').execute();
    const firstInvalidId = verifyAuditChain(rows);
    return { data: { valid: firstInvalidId === null, entries: rows.length, firstInvalidId } };
  });
}
