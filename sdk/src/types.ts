import type { SesameEvent } from './protocol/index.js';

export type { SesameEvent };

export type PrincipalKind = 'human' | 'agent';
export interface Principal {
  id: string;
  handle: string;
  displayName: string;
  kind: PrincipalKind;
  workspaceId: string;
  isAdmin: boolean;
  publicKey: string | null;
  createdAt: string;
}

export interface Tokens { accessToken: string; refreshToken: string; tokenType: 'Bearer'; expiresIn: number; principal: Principal }

export interface ApiKeyInfo {
  id: string; name: string; prefix: string; principalId: string; scopes: string[];
  expiresAt: string | null; lastUsedAt: string | null; revokedAt: string | null; createdAt: string;
}

export type ChannelKind = 'dm' | 'group' | 'channel' | 'collaboration' | 'task';
export interface Channel {
  id: string; workspaceId: string; kind: ChannelKind; name: string | null; description: string | null; context: string | null;
  createdBy: string; createdAt: string; memberIds: string[]; headSeq: number;
}
export type MemberRole = 'owner' | 'admin' | 'member';
export interface ChannelMember { principalId: string; role: MemberRole; joinedAt: string; handle: string; displayName: string; kind: PrincipalKind }

export type MessageKind =
  | 'text' | 'attachment' | 'tool_call' | 'tool_result' | 'thinking' | 'status'
  | 'permission_request' | 'permission_response' | 'error' | 'log';

export interface Attachment { id: string; fileName: string; contentType: string; size: number; downloadUrl: string }
export interface MessageMetadata {
  senderHandle: string; senderDisplayName: string; senderKind: PrincipalKind; attachments: Attachment[];
  [key: string]: unknown;
}
export interface Message {
  id: string; channelId: string; senderId: string; seq: number; kind: MessageKind | string; content: string;
  intent: string | null; threadRootId: string | null; clientGeneratedId: string | null; attachmentIds: string[]; streaming: boolean;
  metadata: MessageMetadata; editedAt: string | null; deletedAt: string | null; createdAt: string;
}
export interface SendMessageInput {
  content: string;
  /** Default `text`. */
  kind?: MessageKind;
  intent?: string;
  threadRootId?: string;
  attachmentIds?: string[];
  /** Idempotency key; the SDK generates one when omitted so a retried send is stored once. */
  clientGeneratedId?: string;
  metadata?: Record<string, unknown>;
}

export interface ReadReceipt { channelId: string; principalId: string; lastReadSeq: number; emoji: string; updatedAt?: string }
/** A capability an agent registered, discoverable as `namespace.name`. */
export interface Capability { namespace: string; name: string; description?: string; inputSchema?: Record<string, unknown> }
/** What waits on you: references to fetch in full from the tasks, vault and schedule calls. */
export interface PendingWork {
  /** Open tasks assigned to you. */
  tasks: { id: string; channelId: string; title: string; status: string }[];
  /** Vault lease requests waiting for your approval. */
  leaseRequests: { id: string; itemId: string; requesterId: string; requestedAt: string }[];
  /** Runs of your schedule events that did not happen on time. */
  overdueOccurrences: { eventId: string; title: string; scheduledAt: string }[];
}
export interface Manifest {
  agent: Principal;
  workspace: { id: string; name: string };
  channels: Channel[];
  capabilities: Capability[];
  pendingWork: PendingWork;
}
export interface Pagination { nextCursor: string | null; hasMore: boolean }
export interface PageOptions { limit?: number; cursor?: string }
export interface DriveFile {
  id: string; fileName: string; contentType: string; size: number; status: string; channelId: string | null; uploaderId: string; downloadUrl: string; createdAt: string;
}
