import type { Channel, MessageRow, Principal } from '../shared/db/schema.js';

/** Database rows → the JSON objects of docs/rest-contract.md. The only place that shapes them. */
function iso(d: Date | string): string;
function iso(d: Date | string | null): string | null;
function iso(d: Date | string | null) { return d == null ? null : new Date(d).toISOString(); }

export function principalToWire(p: Principal) {
  return {
    id: p.id, handle: p.handle, displayName: p.display_name, kind: p.kind, workspaceId: p.workspace_id,
    isAdmin: p.is_admin, publicKey: p.public_key, createdAt: iso(p.created_at),
  };
}
export type WirePrincipal = ReturnType<typeof principalToWire>;

export function channelToWire(c: Channel, memberIds: string[], headSeq: number) {
  return {
    id: c.id, workspaceId: c.workspace_id, kind: c.kind, name: c.name, description: c.description, context: c.context,
    createdBy: c.created_by, createdAt: iso(c.created_at), memberIds, headSeq,
  };
}

export interface SenderInfo { handle: string; display_name: string; kind: string }

export function messageToWire(m: MessageRow, sender: SenderInfo) {
  const metadata = (m.metadata ?? {}) as Record<string, unknown>;
  return {
    id: m.id, channelId: m.channel_id, senderId: m.sender_id, seq: Number(m.seq), kind: m.kind,
    content: m.deleted_at ? '' : m.content,
    intent: m.intent, threadRootId: m.thread_root_id, clientGeneratedId: m.client_generated_id,
    attachmentIds: m.attachment_ids ?? [], streaming: m.streaming,
    metadata: {
      ...(m.deleted_at ? {} : metadata),
      senderHandle: sender.handle, senderDisplayName: sender.display_name, senderKind: sender.kind,
      attachments: (metadata.attachments as unknown[]) ?? [],
    },
    editedAt: iso(m.edited_at), deletedAt: iso(m.deleted_at), createdAt: iso(m.created_at),
  };
}
export type WireMessage = ReturnType<typeof messageToWire>;
