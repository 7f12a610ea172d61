import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** int8 columns are parsed to JS numbers (seqs stay far below 2^53). */
type Int8 = ColumnType<number, number | bigint | string, number | bigint | string>;
type Json<T> = ColumnType<T, string | T | undefined, string | T>;

export interface WorkspaceTable { id: string; name: string; settings: Json<Record<string, unknown>>; created_at: Timestamp }
export interface PrincipalTable {
  id: string;
  workspace_id: string;
  kind: 'human' | 'agent';
  handle: string;
  display_name: string;
  email: string | null;
  public_key: string | null;
  password_hash: string | null;
  is_admin: Generated<boolean>;
  read_receipt_emoji: Generated<string>;
  disabled_at: NullableTimestamp;
  created_at: Timestamp;
}
export interface ApiKeyTable {
  id: string;
  workspace_id: string;
  principal_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  scopes: Json<string[]>;
  rate_limit_per_minute: number | null;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: Timestamp;
}
export interface AuthChallengeTable { nonce: string; principal_id: string; expires_at: Timestamp; used_at: NullableTimestamp }
export interface RefreshTokenTable {
  id: string; principal_id: string; token_hash: string; expires_at: Timestamp; revoked_at: NullableTimestamp; created_at: Timestamp;
  /** Shared by every refresh token rotated from the same login (migration 0004). */
  family_id: string;
}
/** An admin's invitation for one email to join a workspace (migration 0005). */
export interface InviteTable {
  id: string;
  workspace_id: string;
  email: string;
  is_admin: Generated<boolean>;
  /** SHA-256 of the token; the token itself is shown once, to the admin who invites. */
  token_hash: string;
  invited_by: string | null;
  expires_at: Timestamp;
  created_at: Timestamp;
  accepted_at: NullableTimestamp;
  accepted_by: string | null;
  revoked_at: NullableTimestamp;
}
export interface StreamTable { id: string; workspace_id: string; head_seq: Int8 }
export type ChannelKind = 'dm' | 'group' | 'channel' | 'collaboration' | 'task';
export interface ChannelTable {
  id: string;
  workspace_id: string;
  kind: ChannelKind;
  name: string | null;
  description: string | null;
  context: string | null;
  dm_key: string | null;
  created_by: string;
  created_at: Timestamp;
}
export type MemberRole = 'owner' | 'admin' | 'member';
export interface ChannelMemberTable {
  channel_id: string; principal_id: string; role: MemberRole; joined_at: Timestamp;
  /** Seq of this member's `channel.member_added` event on the channel stream. */
  joined_seq: ColumnType<number, number | bigint | string | undefined, number | bigint | string>;
}
export interface MessageTable {
  id: string;
  channel_id: string;
  workspace_id: string;
  sender_id: string;
  seq: Int8;
  kind: string;
  content: string;
  metadata: Json<Record<string, unknown>>;
  intent: string | null;
  thread_root_id: string | null;
  client_generated_id: string | null;
  attachment_ids: Json<string[]>;
  streaming: Generated<boolean>;
  edited_at: NullableTimestamp;
  deleted_at: NullableTimestamp;
  created_at: Timestamp;
}
export interface EventTable {
  stream: string; seq: Int8; workspace_id: string; type: string; data: Json<unknown>; at: Timestamp;
}
export interface ReadReceiptTable {
  channel_id: string; principal_id: string; last_read_seq: Int8; emoji: string; updated_at: Timestamp;
}
export interface AuditLogTable {
  // bigserial, parsed to a number like every int8.
  id: Generated<number>;
  workspace_id: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  data: Json<Record<string, unknown>>;
  at: Timestamp;
  prev_hash: string;
  hash: string;
}

export interface FileTable {
  id: string;
  workspace_id: string;
  uploader_id: string;
  s3_key: string;
  file_name: string;
  content_type: string;
  size: Int8;
  status: 'pending' | 'uploaded' | 'registered';
  channel_id: string | null;
  created_at: Timestamp;
  uploaded_at: NullableTimestamp;
}
export type FileRow = Selectable<FileTable>;

export interface ServerSettingTable { key: string; value: string }

export interface Database {
  server_settings: ServerSettingTable;
  files: FileTable;
  workspaces: WorkspaceTable;
  principals: PrincipalTable;
  api_keys: ApiKeyTable;
  auth_challenges: AuthChallengeTable;
  refresh_tokens: RefreshTokenTable;
  invites: InviteTable;
  streams: StreamTable;
  channels: ChannelTable;
  channel_members: ChannelMemberTable;
  messages: MessageTable;
  events: EventTable;
  read_receipts: ReadReceiptTable;
  audit_log: AuditLogTable;
  webhooks: WebhookTable;
  webhook_secrets: WebhookSecretTable;
  webhook_stream_cursors: WebhookStreamCursorTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_attempts: WebhookAttemptTable;
}

export interface WebhookTable {
  id: string; workspace_id: string; owner_id: string; url: string; description: string | null;
  /** Subscribed event types (`message`, `task.*`, `*`…). */
  event_types: Json<string[]>;
  enabled: Generated<boolean>; disabled_reason: string | null; disabled_at: NullableTimestamp;
  /** When the current run of failures began (null while the endpoint answers 2xx). */
  failing_since: NullableTimestamp;
  /** Deliveries that ran out of retries since the last success. */
  exhausted_count: Generated<number>;
  created_at: Timestamp; updated_at: Timestamp;
}
export interface WebhookSecretTable {
  id: Generated<number>; webhook_id: string; secret: string; created_at: Timestamp;
  /** Null for the current secret; a rotated-out secret keeps signing until then. */
  expires_at: NullableTimestamp;
}
export interface WebhookStreamCursorTable { stream: string; workspace_id: string; last_seq: Int8 }
export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'skipped';
export interface WebhookDeliveryTable {
  id: string; webhook_id: string; workspace_id: string;
  /** The `webhook-id` header: the same on every retry and replay. */
  message_id: string;
  event_stream: string | null; event_seq: ColumnType<number | null, number | null | undefined, number | null>;
  event_type: string; event_at: Timestamp;
  /** The exact JSON body signed and sent on every attempt. */
  body: string;
  status: WebhookDeliveryStatus;
  attempt_count: Generated<number>;
  /** Position in the retry schedule (reset by a replay). */
  retry_step: Generated<number>;
  next_attempt_at: Timestamp;
  /** Set while a worker holds the delivery; a crashed worker's claim runs out here. */
  lease_until: NullableTimestamp;
  last_status_code: number | null;
  created_at: Timestamp; updated_at: Timestamp;
}
export interface WebhookAttemptTable {
  id: Generated<number>; delivery_id: string; attempted_at: Timestamp; status_code: number | null; latency_ms: number;
  error: string | null; response_excerpt: string | null;
}

export type Principal = Selectable<PrincipalTable>;
export type Channel = Selectable<ChannelTable>;
export type MessageRow = Selectable<MessageTable>;
