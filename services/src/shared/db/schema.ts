// The broker policy and injection are stored as the wire protocol declares them (one definition).
import type { BrokerPolicy, BrokerVaultGrant, SecretInjection } from '@sesamespace/sdk/protocol';
import type { MaskingPolicy, SealedItem } from '@sesamespace/vault';
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
/** A single-use, expiring token that registers a device's Ed25519 key as an agent (migration 0010). */
export interface BrokerRegistrationTokenTable {
  id: string;
  workspace_id: string;
  /** SHA-256 of the token; the token itself is shown once, to the admin who creates it. */
  token_hash: string;
  /** The handle the registered agent gets; null lets the device choose (or a generated one). */
  handle: string | null;
  created_by: string | null;
  expires_at: Timestamp;
  created_at: Timestamp;
  used_at: NullableTimestamp;
  used_by: string | null;
  /** Vault memberships the registered agent gets in the transaction that spends the token (migration 0011). */
  vault_grants: Json<BrokerVaultGrant[]>;
}
/**
 * A device's request to become an agent, approved by a workspace admin (`sesame login` without a
 * token; RFC 8628's device flow, migration 0011). `workspace_id` stays null while pending: the
 * deciding admin's workspace becomes the claim's.
 */
export interface BrokerClaimTable {
  id: string;
  /** SHA-256 of the device code, which only the device holds. */
  device_code_hash: string;
  /** `ABCDEFGH` (shown as `ABCD-EFGH`), what the human types or follows in the claim URL. */
  user_code: string;
  public_key: string;
  handle: string | null;
  display_name: string | null;
  requester_address: string;
  status: 'pending' | 'approved' | 'denied';
  poll_interval_seconds: number;
  last_polled_at: NullableTimestamp;
  expires_at: Timestamp;
  created_at: Timestamp;
  workspace_id: string | null;
  decided_by: string | null;
  decided_at: NullableTimestamp;
  deny_reason: string | null;
  principal_id: string | null;
  redeemed_at: NullableTimestamp;
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
  /** The task a `task` channel belongs to (migration 0007). */
  task_id: ColumnType<string | null, string | null | undefined, string | null>;
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

/** A capability an agent registered (migration 0007); `namespace.name` is unique per agent. */
export interface AgentCapabilityTable {
  principal_id: string;
  workspace_id: string;
  namespace: string;
  name: string;
  description: string | null;
  input_schema: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  created_at: Timestamp;
}
export type TaskStatus = 'open' | 'claimed' | 'in_progress' | 'blocked' | 'input_required' | 'done' | 'failed' | 'canceled';
export type TaskPriority = 'low' | 'medium' | 'high' | 'urgent';
/** A unit of work in a channel (migration 0007). */
export interface TaskTable {
  id: string;
  workspace_id: string;
  channel_id: string;
  title: string;
  description: string | null;
  status: TaskStatus;
  priority: TaskPriority;
  labels: Json<string[]>;
  due_at: NullableTimestamp;
  created_by: string;
  claimed_by: string | null;
  task_channel_id: string | null;
  /** The run number: 1, plus one per retry. */
  run: Generated<number>;
  /** The seq the task's next run event gets (the first is 0). */
  next_event_seq: ColumnType<number, number | undefined, number | string>;
  created_at: Timestamp;
  updated_at: Timestamp;
  completed_at: NullableTimestamp;
}
export interface TaskAssigneeTable { task_id: string; principal_id: string; role: string; assigned_by: string | null; assigned_at: Timestamp }
/** One run event of a task (a UniversalEvent of the task stream), per-task gapless `seq`. */
export interface TaskEventTable {
  task_id: string; seq: Int8; run: number; kind: string; data: Json<Record<string, unknown>>; author_id: string | null; at: Timestamp;
}
export type TaskRow = Selectable<TaskTable>;
export type ScheduleStatus = 'active' | 'paused' | 'cancelled' | 'completed';
export type OccurrenceStatus = 'completed' | 'skipped' | 'failed' | 'missed';
export interface ScheduleEventTable {
  id: string;
  workspace_id: string;
  agent_id: string;
  external_id: string | null;
  title: string;
  description: string | null;
  cron_expression: string | null;
  interval_ms: ColumnType<number | null, number | null, number | null>;
  timezone: string;
  status: ScheduleStatus;
  max_occurrences: number | null;
  occurrence_count: Generated<number>;
  next_occurrence_at: NullableTimestamp;
  /** Interval events: the slots are anchor + k × interval. */
  anchor_at: NullableTimestamp;
  channel_id: string | null;
  metadata: Json<Record<string, unknown>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type ScheduleEventRow = Selectable<ScheduleEventTable>;
export interface ScheduleOccurrenceTable {
  id: string;
  event_id: string;
  workspace_id: string;
  scheduled_at: Timestamp;
  status: OccurrenceStatus;
  result: string | null;
  duration_ms: ColumnType<number | null, number | null, number | null>;
  recorded_at: Timestamp;
}
export type ScheduleOccurrenceRow = Selectable<ScheduleOccurrenceTable>;

export interface ServerSettingTable { key: string; value: string }

/** Vault roles (migration 0006): owners manage and approve, editors write and reveal, viewers see masked items, requesters may only ask for leases. */
export type VaultRole = 'owner' | 'editor' | 'viewer' | 'requester';
export type VaultItemType = 'login' | 'api_key' | 'secure_note' | 'totp' | 'database' | 'ssh_key' | 'custom';
/** Lease states as stored and sent on the wire (`pending` is the vault package's `requested`). */
export type VaultLeaseStatus = 'pending' | 'approved' | 'denied' | 'active' | 'expired' | 'revoked';

export interface VaultTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string | null;
  masking_policy: Json<MaskingPolicy>;
  max_lease_ttl_seconds: number;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface VaultMemberTable { vault_id: string; principal_id: string; role: VaultRole; added_by: string | null; added_at: Timestamp }
export interface VaultItemTable {
  id: string;
  vault_id: string;
  workspace_id: string;
  title: string;
  type: VaultItemType;
  hostname: string | null;
  tags: Json<string[]>;
  policy: Json<BrokerPolicy>;
  injection: Json<SecretInjection | null>;
  /** The wrapped data key and the sealed field values (ciphertext only). */
  sealed: Json<SealedItem>;
  /** The master key version wrapping the data key (`sealed.dataKey.keyVersion`), indexed for rotation. */
  key_version: number;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface VaultLeaseTable {
  id: string;
  workspace_id: string;
  vault_id: string;
  item_id: string;
  requester_id: string;
  reason: string;
  /** The host a broker lease was asked for (null for a plain `requestLease`). */
  hostname: string | null;
  status: VaultLeaseStatus;
  ttl_seconds: number;
  max_ttl_seconds: number;
  uses_allowed: number | null;
  uses_count: Generated<number>;
  requested_at: Timestamp;
  pending_expires_at: Timestamp;
  decided_at: NullableTimestamp;
  decided_by: string | null;
  decision_note: string | null;
  activated_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  revoked_by: string | null;
  ended_at: NullableTimestamp;
}
export type VaultRow = Selectable<VaultTable>;
export type VaultItemRow = Selectable<VaultItemTable>;
export type VaultLeaseRow = Selectable<VaultLeaseTable>;

export interface Database {
  server_settings: ServerSettingTable;
  files: FileTable;
  workspaces: WorkspaceTable;
  principals: PrincipalTable;
  api_keys: ApiKeyTable;
  auth_challenges: AuthChallengeTable;
  refresh_tokens: RefreshTokenTable;
  invites: InviteTable;
  broker_registration_tokens: BrokerRegistrationTokenTable;
  broker_claims: BrokerClaimTable;
  streams: StreamTable;
  channels: ChannelTable;
  channel_members: ChannelMemberTable;
  messages: MessageTable;
  events: EventTable;
  read_receipts: ReadReceiptTable;
  audit_log: AuditLogTable;
  agent_capabilities: AgentCapabilityTable;
  tasks: TaskTable;
  task_assignees: TaskAssigneeTable;
  task_events: TaskEventTable;
  schedule_events: ScheduleEventTable;
  schedule_occurrences: ScheduleOccurrenceTable;
  vaults: VaultTable;
  vault_members: VaultMemberTable;
  vault_items: VaultItemTable;
  vault_leases: VaultLeaseTable;
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
