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
  // One query: the channel and the caller's membership row, if any.
  const row = await db.selectFrom('channels')
    .leftJoin('channel_members', (join) => join.onRef('channel_members.channel_id', '=', 'channels.id').on('channel_members.principal_id', '=', principal.id))
    .selectAll('channels').select('channel_members.role as member_role')
    .where('channels.id', '=', channelId).where('channels.workspace_id', '=', principal.workspace_id)
    .executeTakeFirst();
  if (!row) throw notFound('Channel');
  const { member_role: role, ...channel } = row;
  if (!role) throw forbidden('You are not a member of this channel');
  return { channel, role };
}

/**
 * Channel owners and channel admins manage a channel; so does a workspace admin acting as one (a
 * session, or a key that carries the `admin` scope — an admin's `write` key manages only the
 * channels it owns).
 */
export function canManage(role: MemberRole, auth: AuthContext): boolean {
  return role === 'owner' || role === 'admin' || actsAsAdmin(auth);
}
