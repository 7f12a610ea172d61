import { EventType, inboxStream } from '@sesamespace/sdk/protocol';
import type { ServiceContext } from '../../../shared/context.js';
import { isUniqueViolation } from '../../../shared/db/errors.js';
import type { Channel, ChannelKind, MemberRole, Principal } from '../../../shared/db/schema.js';
import { withEvents, type EventBatch, type Trx } from '../../../shared/events.js';
import { newId } from '../../../shared/ids.js';
import { unprocessable } from '../../../shared/errors.js';
import { readHeads } from '../../../shared/events.js';
import { channelToWire } from '../../wire.js';

async function memberIdsOf(db: ServiceContext['db'], channelIds: string[]): Promise<Map<string, string[]>> {
  const map = new Map<string, string[]>(channelIds.map((id) => [id, []]));
  if (channelIds.length === 0) return map;
  const rows = await db.selectFrom('channel_members').select(['channel_id', 'principal_id']).where('channel_id', 'in', channelIds).orderBy('joined_at').execute();
  for (const row of rows) map.get(row.channel_id)?.push(row.principal_id);
  return map;
}

export async function channelsToWire(ctx: ServiceContext, channels: Channel[]) {
  const ids = channels.map((c) => c.id);
  const [members, heads] = await Promise.all([memberIdsOf(ctx.db, ids), readHeads(ctx.db, ids)]);
  return channels.map((c) => channelToWire(c, members.get(c.id) ?? [], heads[c.id] ?? 0));
}

/** All `ids` must be principals of the workspace; a foreign or unknown id is a 422. */
export async function assertPrincipalsInWorkspace(trx: Trx, workspaceId: string, ids: string[]) {
  if (ids.length === 0) return;
  const found = await trx.selectFrom('principals').select('id').where('workspace_id', '=', workspaceId).where('id', 'in', ids).execute();
  const known = new Set(found.map((r) => r.id));
  const missing = ids.filter((id) => !known.has(id));
  if (missing.length) throw unprocessable(`memberIds: unknown principal ${missing[0]}`);
}

/** Adds a member and records it on the channel stream and the new member's inbox. */
export async function addMember(trx: Trx, events: EventBatch, channel: Channel, principalId: string, role: MemberRole, actorId: string) {
  const joinedAt = new Date();
  const data = { channelId: channel.id, principalId, role, addedBy: actorId, joinedAt: joinedAt.toISOString() };
  // The channel event first: its seq is where the member's view of the channel starts.
  const added = await events.append(channel.id, EventType.MemberAdded, data);
  await trx.insertInto('channel_members').values({ channel_id: channel.id, principal_id: principalId, role, joined_at: joinedAt, joined_seq: added.seq }).execute();
  await events.append(inboxStream(principalId), EventType.MemberAdded, { ...data, channelSeq: added.seq, channel: { id: channel.id, kind: channel.kind, name: channel.name } });
}

export async function removeMember(trx: Trx, events: EventBatch, channel: Channel, principalId: string, actorId: string) {
  const removed = await trx.deleteFrom('channel_members').where('channel_id', '=', channel.id).where('principal_id', '=', principalId).executeTakeFirst();
  if (Number(removed.numDeletedRows) === 0) return false;
  const data = { channelId: channel.id, principalId, removedBy: actorId };
  const removedEvent = await events.append(channel.id, EventType.MemberRemoved, data);
  await events.append(inboxStream(principalId), EventType.MemberRemoved, { ...data, channelSeq: removedEvent.seq });
  return true;
}

function dmKey(workspaceId: string, a: string, b: string) {
  return `${workspaceId}:${[a, b].sort().join(':')}`;
}

export interface CreateChannelInput { kind: ChannelKind; name?: string; description?: string; context?: string; memberIds: string[] }

/**
 * Creates a channel with the creator as owner. A DM between two principals is unique: asking
 * again (even concurrently) returns the existing one with `created: false`.
 */
export async function createChannel(ctx: ServiceContext, creator: Principal, input: CreateChannelInput): Promise<{ channel: Channel; created: boolean }> {
  const others = input.memberIds.filter((id) => id !== creator.id);
  let key: string | null = null;
  if (input.kind === 'dm') {
    if (others.length !== 1) throw unprocessable('memberIds: a DM has exactly one other member');
    key = dmKey(creator.workspace_id, creator.id, others[0]);
    const existing = await ctx.db.selectFrom('channels').selectAll().where('dm_key', '=', key).executeTakeFirst();
    if (existing) return { channel: existing, created: false };
  }
  try {
    const channel = await withEvents(ctx.db, creator.workspace_id, ctx.publish, async (trx, events) => {
      await assertPrincipalsInWorkspace(trx, creator.workspace_id, others);
      const row = await trx.insertInto('channels').values({
        id: newId('ch'), workspace_id: creator.workspace_id, kind: input.kind, name: input.name ?? null, description: input.description ?? null,
        context: input.context ?? null, dm_key: key, created_by: creator.id, created_at: new Date(),
      }).returningAll().executeTakeFirstOrThrow();
      await events.append(row.id, EventType.ChannelCreated, { channelId: row.id, kind: row.kind, name: row.name, createdBy: creator.id });
      await addMember(trx, events, row, creator.id, 'owner', creator.id);
      for (const id of others) await addMember(trx, events, row, id, input.kind === 'dm' ? 'owner' : 'member', creator.id);
      return row;
    });
    return { channel, created: true };
  } catch (err) {
    // Two concurrent requests for the same DM: the loser returns the winner's channel.
    if (key && isUniqueViolation(err)) {
      const existing = await ctx.db.selectFrom('channels').selectAll().where('dm_key', '=', key).executeTakeFirst();
      if (existing) return { channel: existing, created: false };
    }
    throw err;
  }
}
