import type { AuthContext } from '../../../shared/auth/authenticate.js';
import type { Db } from '../../../shared/db/database.js';
import type { Channel, MemberRole, Principal } from '../../../shared/db/schema.js';
import { forbidden, notFound } from '../../../shared/errors.js';
import { actsAsAdmin } from '../../../shared/http/authentication.js';

/**
 * The channel if `principal` may read it. Another workspace's channel is a 404 (its existence is
 * not revealed); a channel of your workspace you are not a member of is a 403.
 */
export async function channelForMember(db: Db, principal: Principal, channelId: string): Promise<{ channel: Channel; role: MemberRole }> {
  const channel = await db.selectFrom('channels').selectAll().where('id', '=', channelId).where('workspace_id', '=', principal.workspace_id).executeTakeFirst();
  if (!channel) throw notFound('Channel');
  const membership = await db.selectFrom('channel_members').select('role').where('channel_id', '=', channelId).where('principal_id', '=', principal.id).executeTakeFirst();
  if (!membership) throw forbidden('You are not a member of this channel');
  return { channel, role: membership.role };
}

/**
 * Channel owners and channel admins manage a channel; so does a workspace admin acting as one (a
 * session, or a key that carries the `admin` scope — an admin's `write` key manages only the
 * channels it owns).
 */
export function canManage(role: MemberRole, auth: AuthContext): boolean {
  return role === 'owner' || role === 'admin' || actsAsAdmin(auth);
}
