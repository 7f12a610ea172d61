import { EventType } from '@sesamespace/sdk/protocol';
import { publishPrincipalChange } from '../../../shared/auth/revocations.js';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { ServiceContext } from '../../../shared/context.js';
import { unprocessable } from '../../../shared/errors.js';
import { withEvents } from '../../../shared/events.js';
import { caller } from '../../../shared/http/authentication.js';
import { Data, IdParams, SafeInteger, errorResponses } from '../../../shared/http/schemas.js';
import type { TypedApp } from '../../../shared/http/typed-app.js';
import { channelForMember } from '../channels/access.js';

// One grapheme-ish: short, no whitespace or control characters (custom emoji like `:ship:` too).
const Emoji = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^\\s\\p{Cc}\\uD800-\\uDFFF]+$' });
const Receipt = Type.Object({ channelId: Type.String(), principalId: Type.String(), lastReadSeq: Type.Integer(), emoji: Type.String(), updatedAt: Type.String() });

export async function profileRoutes(app: TypedApp, ctx: ServiceContext) {
  app.get('/profile/read-receipt-emoji', {
    config: { scope: 'read' },
    schema: { tags: ['profile'], summary: 'Your read-receipt emoji', response: { 200: Data(Type.Object({ emoji: Type.String() })), ...errorResponses } },
  }, async (request) => ({ data: { emoji: caller(request).principal.read_receipt_emoji } }));

  app.put('/profile/read-receipt-emoji', {
    config: { scope: 'write' },
    schema: { tags: ['profile'], summary: 'Set your read-receipt emoji', body: Type.Object({ emoji: Emoji }, { additionalProperties: false }), response: { 200: Data(Type.Object({ emoji: Type.String() })), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { emoji } = request.body;
    await ctx.db.updateTable('principals').set({ read_receipt_emoji: emoji }).where('id', '=', me.id).execute();
    // Cached authentications carry the principal row: re-read it everywhere.
    await publishPrincipalChange(ctx, me.id);
    return { data: { emoji } };
  });

  app.post('/channels/:id/read', {
    config: { scope: 'write' },
    schema: { tags: ['read receipts'], summary: 'Mark the channel read up to seq', params: IdParams, body: Type.Object({ seq: SafeInteger() }, { additionalProperties: false }), response: { 200: Data(Receipt), ...errorResponses } },
  }, async (request) => {
    const me = caller(request).principal;
    const { channel } = await channelForMember(ctx.db, me, request.params.id);
    const { seq } = request.body;
    const head = await ctx.db.selectFrom('streams').select('head_seq').where('id', '=', channel.id).executeTakeFirst();
    if (seq > (head?.head_seq ?? 0)) throw unprocessable('seq: is beyond the channel\'s latest seq');
    const receipt = await withEvents(ctx.db, me.workspace_id, ctx.publish, async (trx, events) => {
      // Read position only moves forward; a stale client cannot un-read.
      const row = await sql<{ last_read_seq: number; updated_at: Date }>`
        INSERT INTO read_receipts (channel_id, principal_id, last_read_seq, emoji, updated_at)
        VALUES (${channel.id}, ${me.id}, ${seq}, ${me.read_receipt_emoji}, now())
        ON CONFLICT (channel_id, principal_id) DO UPDATE
          SET last_read_seq = GREATEST(read_receipts.last_read_seq, EXCLUDED.last_read_seq), emoji = EXCLUDED.emoji, updated_at = now()
        RETURNING last_read_seq, updated_at`.execute(trx);
      const r = row.rows[0];
      const data = { channelId: channel.id, principalId: me.id, lastReadSeq: r.last_read_seq, emoji: me.read_receipt_emoji, updatedAt: new Date(r.updated_at).toISOString() };
      await events.append(channel.id, EventType.ReadReceipt, data);
      return data;
    });
    return { data: receipt };
  });

  app.get('/channels/:id/read-receipts', {
    config: { scope: 'read' },
    schema: { tags: ['read receipts'], summary: 'Members\' read positions', params: IdParams, response: { 200: Data(Type.Array(Receipt)), ...errorResponses } },
  }, async (request) => {
    const { channel } = await channelForMember(ctx.db, caller(request).principal, request.params.id);
    const rows = await ctx.db.selectFrom('read_receipts').selectAll().where('channel_id', '=', channel.id).execute();
    return { data: rows.map((r) => ({ channelId: r.channel_id, principalId: r.principal_id, lastReadSeq: r.last_read_seq, emoji: r.emoji, updatedAt: new Date(r.updated_at).toISOString() })) };
  });
}
