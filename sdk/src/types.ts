import type { MessageKind } from './protocol/index.js';

// The REST bodies are declared once, in the wire protocol; these names stay the SDK's public types.
export type {
  ApiKeyInfo, ApiKeyScope, Attachment, AuditEntry, AuditVerification, BrokerApprovalPending, BrokerHostname, BrokerRequestInput,
  BrokerResponse, Capability, Channel, ChannelKind, ChannelMember, DataEnvelope, DriveFile, Health, Invite, Manifest, MemberRole, Message,
  ApproveBrokerClaimInput, BrokerClaim, BrokerClaimPending, BrokerClaimStart, BrokerClaimStatus, BrokerVaultGrant, RegistrationToken,
  MessageKind, MessageMetadata, Page, Pagination, PendingWork, Principal, PrincipalKind, ReadReceipt, SesameEvent, SetupStatus, Tokens, UploadUrl,
  AgentCard, CalendarOccurrence, DiscoveredAgent, OccurrenceStatus, PermissionResponse, RecordOccurrenceInput, RecordOccurrenceResult,
  ScheduleAdjustment, ScheduleCalendar, ScheduleEvent, ScheduleEventInput, ScheduleEventPatch, ScheduleEventResult, ScheduleOccurrence,
  ScheduleStatus, SyncScheduleEventInput, SyncScheduleResult, Task, TaskAssignee, TaskEvent, TaskEventInput, TaskEventKind, TaskPriority,
  TaskStatus, ToolCall,
} from './protocol/index.js';
export type {
  BrokerPolicy, CreateVaultInput, CreateVaultItemInput, LeaseRequestData, LeaseStatus, LeaseUpdatedData, RequestLeaseInput, SecretInjection, TotpCode,
  UpdateVaultItemInput, Vault, VaultItem, VaultItemDetails, VaultItemType, VaultLease, VaultMaskingPolicy, VaultMember, VaultRole,
  Webhook, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookPayload,
} from './protocol/index.js';

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

export interface PageOptions { limit?: number; cursor?: string }
