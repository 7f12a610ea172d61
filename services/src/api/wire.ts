import type { Attachment, Channel, Message, PrincipalKind, Principal } from '@sesamespace/sdk/protocol';
import type { Channel as ChannelRow, MessageRow, Principal as PrincipalRow } from '../shared/db/schema.js';

/**
 * Database rows → the REST bodies of `@sesamespace/sdk/protocol` (docs/rest-contract.md). The only
 * place that shapes them; the return types are the protocol's, so the api and the SDK cannot drift.
 */
export function iso(d: Date | string): string;
export function iso(d: Date | string | null): string | null;
export function iso(d: Date | string | null) {
  return d == null ? null : new Date(d).toISOString();
}

export function principalToWire(p: PrincipalRow): Principal {
  return {
    id: p.id, handle: p.handle, displayName: p.display_name, kind: p.kind, workspaceId: p.workspace_id,
    isAdmin: p.is_admin, publicKey: p.public_key, createdAt: iso(p.created_at),
  };
}

export function channelToWire(c: ChannelRow, memberIds: string[], headSeq: number): Channel {
  return {
    id: c.id, workspaceId: c.workspace_id, kind: c.kind, name: c.name, description: c.description, context: c.context,
    createdBy: c.created_by, createdAt: iso(c.created_at), memberIds, headSeq,
  };
}

export interface SenderInfo { handle: string; display_name: string; kind: PrincipalKind }

export function messageToWire(m: MessageRow, sender: SenderInfo): Message {
  const metadata = m.metadata;
  return {
    id: m.id, channelId: m.channel_id, senderId: m.sender_id, seq: m.seq, kind: m.kind,
    content: m.deleted_at ? '' : m.content,
    intent: m.intent, threadRootId: m.thread_root_id, clientGeneratedId: m.client_generated_id,
    attachmentIds: m.attachment_ids, streaming: m.streaming,
    metadata: {
      ...(m.deleted_at ? {} : metadata),
      senderHandle: sender.handle, senderDisplayName: sender.display_name, senderKind: sender.kind,
      attachments: (metadata.attachments as Attachment[] | undefined) ?? [],
    },
    editedAt: iso(m.edited_at), deletedAt: iso(m.deleted_at), createdAt: iso(m.created_at),
  };
}
