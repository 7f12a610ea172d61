import { Type } from '@sinclair/typebox';
import type { Selectable } from 'kysely';
import { appendAudit } from '../../../shared/audit.js';
import { sha256 } from '../../../shared/auth/secrets.js';
import type { ServiceContext } from '../../../shared/context.js';
import type { InviteTable } from '../../../shared/db/schema.js';
import { conflict, notFound } from '../../../shared/errors.js';
import { newId, randomToken } from '../../../shared/ids.js';
import { requireAdmin } from '../../../shared/http/authentication.js';
import { Data, IdParams, Page, decodeCursor, encodeCursor, errorResponses, pageOf } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { CreateInviteBody, DEFAULT_INVITE_TTL_SECONDS, InviteSchema, ListInvitesQuery } from './schemas.js';
import { iso } from '../../wire.js';

function inviteToWire(i: Selectable<InviteTable>) {
  return {
    id: i.id, email: i.email, isAdmin: i.is_admin, invitedBy: i.invited_by, expiresAt: iso(i.expires_at), createdAt: iso(i.created_at),
    acceptedAt: iso(i.accepted_at), acceptedBy: i.accepted_by, revokedAt: iso(i.revoked_at),
  };
}

/**
 * Admin invitations: once setup is complete, humans join a workspace by accepting an invite
 * (`POST /auth/accept-invite`). The token is shown once, to the admin, and stored as its SHA-256;
 * it is single use and expires.
 */
export async function inviteRoutes(app: TypedApp, ctx: ServiceContext) {
  app.post('/invites', {
    config: { scope: 'admin' },
    schema: { tags: ['invites'], summary: 'Invite a human to the workspace (admin); the token is shown once', body: CreateInviteBody, response: { 201: Data(Type.Object({ invite: InviteSchema, token: Type.String() })), ...errorResponses } },
  }, async (request, reply) => {
    const admin = requireAdmin(request).principal;
    const body = request.body;
    // Only this workspace is looked at: an email held in another workspace is no conflict and
    // is never mentioned.
    const member = await ctx.db.selectFrom('principals').select('id').where('workspace_id', '=', admin.workspace_id)
      .where((eb) => eb(eb.fn('lower', ['email']), '=', body.email.toLowerCase())).executeTakeFirst();
    if (member) throw conflict('A member of this workspace already has this email');
    const token = `inv_${randomToken(32)}`;
    const now = new Date();
    const invite = await ctx.db.transaction().execute(async (trx) => {
      const created = await trx.insertInto('invites').values({
        id: newId('inv'), workspace_id: admin.workspace_id, email: body.email, is_admin: body.isAdmin ?? false, token_hash: sha256(token),
        invited_by: admin.id, expires_at: new Date(now.getTime() + (body.expiresInSeconds ?? DEFAULT_INVITE_TTL_SECONDS) * 1000), created_at: now,
      }).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, {
        workspaceId: admin.workspace_id, actorId: admin.id, action: 'invite.created', targetType: 'invite', targetId: created.id,
        data: { email: created.email, isAdmin: created.is_admin, expiresAt: iso(created.expires_at) },
      });
      return created;
    });
    reply.status(201);
    return { data: { invite: inviteToWire(invite), token } };
  });

  app.get('/invites', {
    config: { scope: 'admin' },
    schema: { tags: ['invites'], summary: 'The workspace\'s invites (admin)', querystring: ListInvitesQuery, response: { 200: Page(InviteSchema), ...errorResponses } },
  }, async (request) => {
    const admin = requireAdmin(request).principal;
    const { limit = 50, cursor } = request.query;
    let query = ctx.db.selectFrom('invites').selectAll().where('workspace_id', '=', admin.workspace_id).orderBy('id').limit(limit + 1);
    if (cursor) query = query.where('id', '>', decodeCursor<{ id: string }>(cursor, { id: 'string' }).id);
    const rows = await query.execute();
    const { page, pagination } = pageOf(rows, limit, (last) => encodeCursor({ id: last.id }));
    return { data: page.map(inviteToWire), pagination };
  });

  app.delete('/invites/:id', {
    config: { scope: 'admin' },
    schema: { tags: ['invites'], summary: 'Revoke an invite that was not accepted yet (admin)', params: IdParams, response: { 200: Data(InviteSchema), ...errorResponses } },
  }, async (request) => {
    const admin = requireAdmin(request).principal;
    const { id } = request.params;
    const invite = await ctx.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('invites').selectAll().where('id', '=', id).where('workspace_id', '=', admin.workspace_id).forUpdate().executeTakeFirst();
      if (!row) throw notFound('Invite');
      if (row.accepted_at) throw conflict('The invite was already accepted; disable the principal instead');
      if (row.revoked_at) return row;
      const revoked = await trx.updateTable('invites').set({ revoked_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      await appendAudit(trx, { workspaceId: admin.workspace_id, actorId: admin.id, action: 'invite.revoked', targetType: 'invite', targetId: id, data: { email: row.email } });
      return revoked;
    });
    return { data: inviteToWire(invite) };
  });
}
