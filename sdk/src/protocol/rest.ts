/**
 * REST bodies under `/api/v1` (docs/rest-contract.md): the objects the api sends and their
 * `{data}` envelopes. The api declares its wire mappers with these types; the SDK returns them.
 * Timestamps are ISO 8601 strings; ids are opaque strings.
 */

// ---- envelopes ----------------------------------------------------------------------------

/** Every success body except `/health` and `/setup/status`. */
export interface DataEnvelope<T> { data: T }
export interface Pagination {
  /** Pass as `cursor` to continue in the same direction; null at the end. */
  nextCursor: string | null;
  hasMore: boolean;
}
/** A list: one page of `data` and how to get the next. */
export interface Page<T> { data: T[]; pagination: Pagination }

// ---- principals, keys, sessions ------------------------------------------------------------

export type PrincipalKind = 'human' | 'agent';
export interface Principal {
  id: string;
  handle: string;
  displayName: string;
  kind: PrincipalKind;
  workspaceId: string;
  isAdmin: boolean;
  /** Base64 Ed25519 public key of an agent that signs in by challenge–response. */
  publicKey: string | null;
  createdAt: string;
}

/** `POST /auth/verify`, `/auth/refresh`, `/auth/login`, `/auth/signup`, `/auth/accept-invite`. */
export interface Tokens {
  accessToken: string;
  /** Single use: refreshing rotates it. */
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until `accessToken` expires. */
  expiresIn: number;
  principal: Principal;
}

/**
 * An admin's invitation for one email to join the workspace (`POST /invites`). The token that
 * accepts it is returned once, at creation, and is single use.
 */
export interface Invite {
  id: string;
  email: string;
  /** The account it creates is an admin. */
  isAdmin: boolean;
  invitedBy: string | null;
  expiresAt: string;
  createdAt: string;
  acceptedAt: string | null;
  /** The principal created by accepting it. */
  acceptedBy: string | null;
  revokedAt: string | null;
}

/**
 * The scopes an API key can carry. `read` lets a key read what its principal can read, `write`
 * also change it, `admin` also use its principal's admin rights, `*` everything (including the
 * per-area scopes later features add). A key never creates a key wider than itself. Access
 * tokens and sessions are not scoped: they act with the principal's rights.
 */
export const API_KEY_SCOPES = ['*', 'read', 'write', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** An API key's metadata; the `sk_…` secret itself is returned once, at creation. */
export interface ApiKeyInfo {
  id: string; name: string; prefix: string; principalId: string; scopes: ApiKeyScope[];
  expiresAt: string | null; lastUsedAt: string | null; revokedAt: string | null; createdAt: string;
}

// ---- channels and messages ---------------------------------------------------------------

export type ChannelKind = 'dm' | 'group' | 'channel' | 'collaboration' | 'task';
export interface Channel {
  id: string; workspaceId: string; kind: ChannelKind; name: string | null; description: string | null; context: string | null;
  createdBy: string; createdAt: string; memberIds: string[];
  /** `seq` of the channel's latest event. */
  headSeq: number;
}
export type MemberRole = 'owner' | 'admin' | 'member';
export interface ChannelMember { principalId: string; role: MemberRole; joinedAt: string; handle: string; displayName: string; kind: PrincipalKind }

export type MessageKind =
  | 'text' | 'attachment' | 'tool_call' | 'tool_result' | 'thinking' | 'status'
  | 'permission_request' | 'permission_response' | 'error' | 'log';

/** A registered file attached to a message (`metadata.attachments`). */
export interface Attachment { id: string; fileName: string; contentType: string; size: number; downloadUrl: string }
/** The sender's identity and attachments, filled by the server, plus kind-specific fields. */
export interface MessageMetadata {
  senderHandle: string; senderDisplayName: string; senderKind: PrincipalKind; attachments: Attachment[];
  [key: string]: unknown;
}
export interface Message {
  id: string; channelId: string; senderId: string; seq: number; kind: MessageKind | (string & Record<never, never>);
  /** Empty once deleted. */
  content: string;
  intent: string | null; threadRootId: string | null; clientGeneratedId: string | null; attachmentIds: string[];
  /** True while the sender is still generating the content (streamed edits). */
  streaming: boolean;
  metadata: MessageMetadata; editedAt: string | null; deletedAt: string | null; createdAt: string;
}

export interface ReadReceipt { channelId: string; principalId: string; lastReadSeq: number; emoji: string; updatedAt?: string }

// ---- agent intelligence ------------------------------------------------------------------

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

/** `GET /manifest`: the caller's world view. */
export interface Manifest {
  agent: Principal;
  workspace: { id: string; name: string };
  channels: Channel[];
  capabilities: Capability[];
  pendingWork: PendingWork;
}

// ---- drive -------------------------------------------------------------------------------

/** `POST /drive/files/upload-url`: PUT the bytes to `uploadUrl` (no auth header), then register. */
export interface UploadUrl { uploadUrl: string; fileId: string; s3Key: string; expiresAt: string }
export interface DriveFile {
  id: string; fileName: string; contentType: string; size: number; status: string; channelId: string | null; uploaderId: string; downloadUrl: string; createdAt: string;
}

// ---- unwrapped -----------------------------------------------------------------------------

/** `GET /health` (not wrapped in `{data}`). */
export interface Health { status: 'healthy'; timestamp: string }
/** `GET /setup/status` (not wrapped in `{data}`). */
export interface SetupStatus { setupComplete: boolean; hasAdmin: boolean }

// ---- audit -------------------------------------------------------------------------------

/** One entry of the workspace's hash-chained audit log (`GET /audit`). */
export interface AuditEntry {
  id: number; actorId: string | null; action: string; targetType: string | null; targetId: string | null;
  data: Record<string, unknown>; at: string; prevHash: string; hash: string;
}
/** `GET /audit/verify`: the chain recomputed; `firstInvalidId` is the first entry that does not match. */
export interface AuditVerification { valid: boolean; entries: number; firstInvalidId: number | null }
