import { AgentCredentials, StaticCredentials, type Credentials } from './auth.js';
import { RealtimeError } from './errors.js';
import { HttpClient } from './http.js';
import { DEFAULT_OPTIONS, validateOptions, type SesameClientOptions } from './options.js';
import { MAX_PRESENCE_SUBSCRIPTIONS, type Cursors, type PresenceStatus } from './protocol/index.js';
import { RealtimeConnection, type ConnectionState } from './realtime/connection.js';
import { MemoryCursorStore } from './realtime/cursor-store.js';
import { GuardedEmitter } from './realtime/guarded-emitter.js';
import { randomBytes } from './runtime.js';
import { publicKeyOf, signChallenge, signClaimPoll } from './keys.js';
import { sleep } from './backoff.js';
import { streamTaskEvents, type StreamTaskOptions } from './task-stream.js';
import { SDK_VERSION } from './version.js';
import type {
  AgentCard, ApiKeyInfo, ApiKeyScope, ApproveBrokerClaimInput, AuditEntry, BrokerClaim, BrokerClaimPending, BrokerClaimStart, BrokerVaultGrant, AuditVerification, BrokerApprovalPending, BrokerHostname, BrokerRequestInput,
  BrokerResponse, Capability, Channel, ChannelKind, ChannelMember, CreateVaultInput, CreateVaultItemInput, DiscoveredAgent, DriveFile,
  Invite, LeaseStatus, Manifest, MemberRole, Message, PageOptions, Pagination, Principal, ReadReceipt, RecordOccurrenceInput,
  RecordOccurrenceResult, RegistrationToken, RequestLeaseInput, ScheduleCalendar, ScheduleEvent, ScheduleEventInput, ScheduleEventPatch,
  ScheduleEventResult, ScheduleOccurrence, ScheduleStatus, SendMessageInput, SesameEvent, SetupStatus, SyncScheduleEventInput,
  SyncScheduleResult, Task, TaskEvent, TaskEventInput, TaskPriority, TaskStatus, Tokens, TotpCode, UpdateVaultItemInput, Vault, VaultItem,
  VaultItemDetails, VaultItemType, VaultLease, VaultMaskingPolicy, VaultMember, VaultRole, Webhook, WebhookDelivery, WebhookDeliveryStatus,
} from './types.js';

type Page<T> = { data: T[]; pagination: Pagination };

function randomId(): string {
  return Array.from(randomBytes(16), (b) => b.toString(16).padStart(2, '0')).join('');
}

const enc = encodeURIComponent;

/**
 * The Sesame client: REST calls with typed errors and safe retries, plus (see `realtime/`) a
 * WebSocket connection with cursor replay whose events it emits (`SesameClientEvents`).
 */
export class SesameClient extends GuardedEmitter {
  protected readonly options: SesameClientOptions & typeof DEFAULT_OPTIONS;
  protected readonly http: HttpClient;
  protected readonly credentials: Credentials;
  private realtime?: RealtimeConnection;
  private readonly presenceSubscriptions = new Set<string>();

  constructor(options: SesameClientOptions) {
    super();
    validateOptions(options);
    this.options = { ...DEFAULT_OPTIONS, ...options } as SesameClientOptions & typeof DEFAULT_OPTIONS;
    this.http = new HttpClient({
      apiUrl: options.apiUrl, maxRetries: this.options.maxRetries, timeoutMs: this.options.timeoutMs,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    });
    this.credentials = options.agent
      ? new AgentCredentials(this.http, options.agent)
      : options.apiKey ? new StaticCredentials(options.apiKey, 'apiKey') : new StaticCredentials(options.token ?? '', 'token');
    this.http.credentials = this.credentials;
  }

  // ---- realtime ----------------------------------------------------------------------------

  /**
   * Opens the realtime connection; resolves once authenticated. Calling it again while connecting
   * or connected returns the same outcome. Rejects with `RealtimeAuthError` when the gateway
   * refuses the credentials, and with `RealtimeError` when `wsUrl` is missing or reconnect
   * attempts run out before a first success.
   */
  connect(): Promise<void> {
    const urls = this.options.wsUrl === undefined ? [] : ([] as string[]).concat(this.options.wsUrl);
    if (urls.length === 0) {
      return Promise.reject(new RealtimeError({ kind: 'realtime-not-configured', title: 'No gateway URL', detail: 'connect() needs the `wsUrl` option, e.g. "ws://127.0.0.1:13532"' }));
    }
    this.realtime ??= new RealtimeConnection({
      urls,
      credentials: this.credentials,
      cursorStore: this.options.cursorStore ?? new MemoryCursorStore(),
      autoReconnect: this.options.autoReconnect,
      maxReconnectAttempts: this.options.maxReconnectAttempts,
      reconnectBaseDelayMs: this.options.reconnectBaseDelayMs,
      reconnectMaxDelayMs: this.options.reconnectMaxDelayMs,
      fetchAfter: (stream, after) => this.getStreamEvents(stream, { after, limit: 1000 }),
      sdkVersion: SDK_VERSION,
      presenceSubscriptions: () => this.presenceSubscriptions,
    }, {
      emit: (event, ...args) => { (this.emit as (name: string, ...rest: unknown[]) => boolean)(event, ...args); },
      dispatch: (event) => { this.dispatch(event); },
    });
    return this.realtime.connect();
  }

  /** Closes the connection (code 1000) without reconnecting, and saves the cursors. */
  async disconnect(): Promise<void> {
    await this.realtime?.disconnect();
  }

  /** Shows you typing in `channelId` for a few seconds; dropped while disconnected. */
  sendTyping(channelId: string): void {
    this.realtime?.send({ type: 'typing', channelId });
  }

  /** Sets your presence; kept and re-sent after every reconnect. */
  setPresence(status: 'online' | 'away'): void {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- plain-JS callers get a clear error
    if (status !== 'online' && status !== 'away') throw new TypeError("setPresence: status must be 'online' or 'away'");
    this.realtime?.setPresence(status);
  }

  /**
   * Hear `presence` events of these principals of your workspace too. By default you hear only
   * the principals you share a channel with; this adds others (a directory of agents, say).
   * Kept and re-sent after every reconnect, and may be called before `connect()`. At most
   * 1,000 principals; follow it with `getPresence(ids)` for their current status.
   */
  subscribePresence(principalIds: string[]): void {
    const added = principalIds.filter((id) => !this.presenceSubscriptions.has(id));
    if (this.presenceSubscriptions.size + added.length > MAX_PRESENCE_SUBSCRIPTIONS) {
      throw new RangeError(`subscribePresence: at most ${MAX_PRESENCE_SUBSCRIPTIONS} principals (${this.presenceSubscriptions.size} already subscribed)`);
    }
    if (added.length === 0) return;
    for (const id of added) this.presenceSubscriptions.add(id);
    this.realtime?.send({ type: 'presence_subscribe', principalIds: added });
  }

  /** Stops `subscribePresence` for these principals (co-members of your channels are still heard). */
  unsubscribePresence(principalIds: string[]): void {
    const removed = principalIds.filter((id) => this.presenceSubscriptions.delete(id));
    if (removed.length > 0) this.realtime?.send({ type: 'presence_unsubscribe', principalIds: removed });
  }

  /** A copy of the cursors: the last delivered seq per stream. */
  get cursors(): Cursors {
    return this.realtime?.cursors ?? {};
  }

  get connectionState(): ConnectionState {
    return this.realtime?.state ?? 'idle';
  }

  // ---- humans: get a token for the `token` option ------------------------------------------

  /**
   * Password login for humans; pass `accessToken` as the `token` option. `workspaceId` picks the
   * workspace when this email has accounts in several (otherwise the oldest matching one).
   */
  static async login(input: { apiUrl: string; email: string; password: string; workspaceId?: string; fetch?: typeof fetch }): Promise<Tokens> {
    const http = new HttpClient({ apiUrl: input.apiUrl, maxRetries: 0, timeoutMs: 30_000, fetch: input.fetch ?? globalThis.fetch.bind(globalThis) });
    const body = { email: input.email, password: input.password, ...(input.workspaceId ? { workspaceId: input.workspaceId } : {}) };
    return http.data<Tokens>('POST', '/auth/login', { body, anonymous: true });
  }

  /**
   * Joins the inviting workspace with the token an admin got from `createInvite` (single use):
   * creates the human account for the invited email and logs it in.
   */
  static async acceptInvite(input: { apiUrl: string; token: string; password: string; displayName: string; handle?: string; fetch?: typeof fetch }): Promise<Tokens> {
    const { apiUrl, fetch: f, ...body } = input;
    const http = new HttpClient({ apiUrl, maxRetries: 0, timeoutMs: 30_000, fetch: f ?? globalThis.fetch.bind(globalThis) });
    return http.data<Tokens>('POST', '/auth/accept-invite', { body, anonymous: true });
  }

  /**
   * Creates a workspace with this human as its admin: only while the server's setup is incomplete,
   * or on servers that opt in with `SESAME_ALLOW_SIGNUP=true`. Otherwise ask an admin for an invite.
   */
  static async signup(input: { apiUrl: string; email: string; password: string; displayName: string; handle?: string; workspaceName?: string; fetch?: typeof fetch }): Promise<Tokens> {
    const { apiUrl, fetch: f, ...body } = input;
    const http = new HttpClient({ apiUrl, maxRetries: 0, timeoutMs: 30_000, fetch: f ?? globalThis.fetch.bind(globalThis) });
    return http.data<Tokens>('POST', '/auth/signup', { body, anonymous: true });
  }

  /**
   * Trades a human's refresh token (from `login`, `signup` or an earlier refresh) for new tokens;
   * the refresh token is single use. A client built with `token` keeps that token: make a new
   * client with the new `accessToken` (pass the old one's `cursorStore` to resume its streams).
   */
  static async refresh(input: { apiUrl: string; refreshToken: string; fetch?: typeof fetch }): Promise<Tokens> {
    return SesameClient.anonymousHttp(input.apiUrl, input.fetch).data<Tokens>('POST', '/auth/refresh', { body: { refreshToken: input.refreshToken }, anonymous: true });
  }

  /**
   * Whether the server's setup is complete (`GET /setup/status`, no credential): before it is,
   * `signup` creates the first admin — what a console shows on first run.
   */
  static async getSetupStatus(input: { apiUrl: string; fetch?: typeof fetch }): Promise<SetupStatus> {
    return SesameClient.anonymousHttp(input.apiUrl, input.fetch).raw<SetupStatus>('GET', '/setup/status', { anonymous: true });
  }

  // ---- agents: device registration and Ed25519 sign-in (the `sesame` CLI uses these) -------

  /**
   * Registers a device's Ed25519 public key as a new agent with a registration token an admin
   * made with `createRegistrationToken` (single use; the `sesame-register:` prefix may be left
   * out). Returns the new agent's first tokens; later it signs in with `signInAgent`.
   */
  static async registerAgent(input: { apiUrl: string; token: string; publicKey: string; handle?: string; displayName?: string; fetch?: typeof fetch }): Promise<Tokens> {
    const { apiUrl, fetch: f, ...body } = input;
    return SesameClient.anonymousHttp(apiUrl, f).data<Tokens>('POST', '/broker/register', { body, anonymous: true });
  }

  /**
   * Agent-initiated registration, step 1 (RFC 8628 device authorization): asks the broker to let
   * this device's key become an agent. Show the human `verificationUriComplete` and `userCode`;
   * keep `deviceCode` secret and poll with `pollAgentClaim` (or let `claimAgent` do it all).
   */
  static async openAgentClaim(input: { apiUrl: string; publicKey: string; handle?: string; displayName?: string; fetch?: typeof fetch }): Promise<BrokerClaimStart> {
    const { apiUrl, fetch: f, ...body } = input;
    return SesameClient.anonymousHttp(apiUrl, f).data<BrokerClaimStart>('POST', '/broker/claims', { body, anonymous: true });
  }

  /**
   * One poll of a claim, signed by the device key: `{status: 'approved', tokens}` once a human
   * approved (only the first poll after approval gets them), else `authorization_pending` or
   * `slow_down` with the interval to keep. A denial is a `ForbiddenError`, an expired or used
   * claim a `BadRequestError` (`problem.claimStatus`: `access_denied`, `expired_token`).
   */
  static async pollAgentClaim(input: { apiUrl: string; deviceCode: string; privateKey: string; fetch?: typeof fetch }): Promise<BrokerClaimPending | { status: 'approved'; tokens: Tokens }> {
    const body = { deviceCode: input.deviceCode, signature: signClaimPoll(input.privateKey, input.deviceCode) };
    return SesameClient.anonymousHttp(input.apiUrl, input.fetch).data('POST', '/broker/claims/token', { body, anonymous: true });
  }

  /**
   * Registers this device's key as a new agent once a human approves it in the console: opens a
   * claim, calls `onClaim` (show its `verificationUriComplete` and `userCode`), polls at the
   * broker's interval and resolves to the agent's first tokens. Rejects with `ForbiddenError` when
   * denied, `BadRequestError` when the claim expires (10 minutes), or when `signal` aborts.
   */
  static async claimAgent(input: {
    apiUrl: string; privateKey: string; handle?: string; displayName?: string; fetch?: typeof fetch;
    onClaim?: (claim: BrokerClaimStart) => void; signal?: AbortSignal;
  }): Promise<Tokens> {
    const { apiUrl, privateKey, fetch: f } = input;
    const claim = await SesameClient.openAgentClaim({
      apiUrl, publicKey: publicKeyOf(privateKey), ...(input.handle ? { handle: input.handle } : {}), ...(input.displayName ? { displayName: input.displayName } : {}), ...(f ? { fetch: f } : {}),
    });
    input.onClaim?.(claim);
    let interval = claim.interval;
    for (;;) {
      await sleep(interval * 1000);
      input.signal?.throwIfAborted();
      const answer = await SesameClient.pollAgentClaim({ apiUrl, deviceCode: claim.deviceCode, privateKey, ...(f ? { fetch: f } : {}) });
      if (answer.status === 'approved') return answer.tokens;
      interval = answer.interval;
    }
  }

  /** Ed25519 challenge–response once, for tokens to keep (what the `agent` option does on its own). */
  static async signInAgent(input: { apiUrl: string; handle: string; privateKey: string; workspaceId?: string; fetch?: typeof fetch }): Promise<Tokens> {
    const http = SesameClient.anonymousHttp(input.apiUrl, input.fetch);
    const scope = input.workspaceId ? { workspaceId: input.workspaceId } : {};
    const { nonce } = await http.data<{ nonce: string }>('POST', '/auth/challenge', { body: { handle: input.handle, ...scope }, anonymous: true, idempotent: true });
    const signature = signChallenge(input.privateKey, input.handle, nonce);
    return http.data<Tokens>('POST', '/auth/verify', { body: { handle: input.handle, nonce, signature, ...scope }, anonymous: true });
  }

  private static anonymousHttp(apiUrl: string, f?: typeof fetch): HttpClient {
    return new HttpClient({ apiUrl, maxRetries: 0, timeoutMs: 30_000, fetch: f ?? globalThis.fetch.bind(globalThis) });
  }

  // ---- identity ----------------------------------------------------------------------------

  /** Your world view: identity, workspace, channels, capabilities, pending work. */
  getManifest(): Promise<Manifest> { return this.http.data('GET', '/manifest'); }
  getMe(): Promise<Principal> { return this.http.data('GET', '/auth/me'); }

  // ---- channels ----------------------------------------------------------------------------

  async listChannels(options: PageOptions = {}): Promise<{ channels: Channel[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<Channel>>('GET', '/channels', { query: { ...options } });
    return { channels: page.data, nextCursor: page.pagination.nextCursor };
  }
  async getChannel(channelId: string): Promise<{ channel: Channel }> {
    return { channel: await this.http.data('GET', `/channels/${enc(channelId)}`) };
  }
  /** Creating a `dm` that already exists returns the existing one. */
  async createChannel(input: { kind: ChannelKind; name?: string; description?: string; context?: string; memberIds: string[] }): Promise<{ channel: Channel }> {
    // Safe to retry: channel creation is not deduplicated in general, so no idempotent flag.
    return { channel: await this.http.data('POST', '/channels', { body: input, idempotent: input.kind === 'dm' }) };
  }
  createDm(principalId: string): Promise<{ channel: Channel }> {
    return this.createChannel({ kind: 'dm', memberIds: [principalId] });
  }
  createCollaborationChannel(input: { name: string; description?: string; memberIds: string[]; context?: string }): Promise<{ channel: Channel }> {
    return this.createChannel({ kind: 'collaboration', ...input });
  }
  async updateChannel(channelId: string, patch: { name?: string; description?: string | null; context?: string | null }): Promise<{ channel: Channel }> {
    return { channel: await this.http.data('PATCH', `/channels/${enc(channelId)}`, { body: patch, idempotent: true }) };
  }
  async listChannelMembers(channelId: string): Promise<{ members: ChannelMember[] }> {
    return { members: await this.http.data('GET', `/channels/${enc(channelId)}/members`) };
  }
  async addChannelMember(channelId: string, principalId: string, role?: MemberRole): Promise<{ member: ChannelMember }> {
    return { member: await this.http.data('POST', `/channels/${enc(channelId)}/members`, { body: { principalId, ...(role ? { role } : {}) } }) };
  }
  async removeChannelMember(channelId: string, principalId: string): Promise<void> {
    await this.http.raw('DELETE', `/channels/${enc(channelId)}/members/${enc(principalId)}`);
  }

  // ---- messages ----------------------------------------------------------------------------

  /** History in ascending seq; follow `nextCursor` (same direction) to continue. */
  async getMessages(channelId: string, options: { limit?: number; cursor?: string; direction?: 'before' | 'after'; before?: number; after?: number } = {}): Promise<{ messages: Message[]; nextCursor: string | null; hasMore: boolean }> {
    const page = await this.http.raw<Page<Message>>('GET', `/channels/${enc(channelId)}/messages`, { query: { ...options } });
    return { messages: page.data, nextCursor: page.pagination.nextCursor, hasMore: page.pagination.hasMore };
  }
  /** Sends a message; always idempotent (a `clientGeneratedId` is generated when omitted), so retries are safe. */
  sendMessage(channelId: string, input: SendMessageInput): Promise<Message> {
    const body = { ...input, clientGeneratedId: input.clientGeneratedId ?? randomId() };
    return this.http.data('POST', `/channels/${enc(channelId)}/messages`, { body, idempotent: true });
  }
  getMessage(channelId: string, messageId: string): Promise<Message> {
    return this.http.data('GET', `/channels/${enc(channelId)}/messages/${enc(messageId)}`);
  }
  /** Edits your message; `streaming: true` while a reply is still being generated. */
  editMessage(channelId: string, messageId: string, input: { content: string; streaming?: boolean }): Promise<Message> {
    return this.http.data('PATCH', `/channels/${enc(channelId)}/messages/${enc(messageId)}`, { body: input, idempotent: true });
  }
  deleteMessage(channelId: string, messageId: string): Promise<Message> {
    return this.http.data('DELETE', `/channels/${enc(channelId)}/messages/${enc(messageId)}`);
  }

  // ---- read receipts and profile -----------------------------------------------------------

  markRead(channelId: string, seq: number): Promise<ReadReceipt> {
    return this.http.data('POST', `/channels/${enc(channelId)}/read`, { body: { seq }, idempotent: true });
  }
  async getReadReceipts(channelId: string): Promise<{ receipts: ReadReceipt[] }> {
    return { receipts: await this.http.data('GET', `/channels/${enc(channelId)}/read-receipts`) };
  }
  setReadReceiptEmoji(emoji: string): Promise<{ emoji: string }> {
    return this.http.data('PUT', '/profile/read-receipt-emoji', { body: { emoji } });
  }
  getReadReceiptEmoji(): Promise<{ emoji: string }> { return this.http.data('GET', '/profile/read-receipt-emoji'); }

  // ---- files -------------------------------------------------------------------------------

  /** Uploads bytes and registers the file; attach it with `sendMessage(..., {kind: 'attachment', attachmentIds: [file.id]})`. */
  async uploadFile(input: { fileName: string; contentType: string; data: Uint8Array | string; channelId?: string }): Promise<{ file: DriveFile }> {
    const bytes = typeof input.data === 'string' ? new TextEncoder().encode(input.data) : input.data;
    const reserved = await this.http.data<{ uploadUrl: string; fileId: string; s3Key: string }>('POST', '/drive/files/upload-url', {
      body: { fileName: input.fileName, contentType: input.contentType, size: bytes.byteLength }, idempotent: false,
    });
    const put = await (this.options.fetch ?? globalThis.fetch)(reserved.uploadUrl, { method: 'PUT', body: bytes as unknown as NonNullable<Parameters<typeof fetch>[1]>['body'], headers: { 'content-type': 'application/octet-stream' } });
    if (!put.ok) throw new Error(`upload failed with HTTP ${put.status}`);
    const file = await this.http.data<DriveFile>('POST', '/drive/files', {
      body: { fileId: reserved.fileId, s3Key: reserved.s3Key, fileName: input.fileName, contentType: input.contentType, size: bytes.byteLength, ...(input.channelId ? { channelId: input.channelId } : {}) },
      idempotent: true,
    });
    return { file };
  }

  // ---- schedules ---------------------------------------------------------------------------

  /**
   * Makes your schedule exactly `events` (upsert by `externalId`, in one transaction): jobs missing
   * from the array are cancelled, and syncing the same array again answers all zeros. Call it on
   * boot and after every change. The server computes each `nextOccurrenceAt`; a value you sent
   * that disagrees is replaced and listed in `adjustments`.
   */
  syncSchedule(events: SyncScheduleEventInput[]): Promise<SyncScheduleResult> {
    return this.http.data('POST', '/schedule/sync', { body: { events }, idempotent: true });
  }
  /** Records what happened at a run (a retry of the same `scheduledAt` updates the one record). */
  recordOccurrence(eventId: string, input: RecordOccurrenceInput): Promise<RecordOccurrenceResult> {
    return this.http.data('POST', `/schedule/events/${enc(eventId)}/occurrences`, { body: input, idempotent: true });
  }
  /** One event: one-shot (`nextOccurrenceAt`, `maxOccurrences: 1`), cron or interval. */
  createScheduleEvent(input: ScheduleEventInput): Promise<ScheduleEventResult> {
    return this.http.data('POST', '/schedule/events', { body: input, idempotent: false });
  }
  /** Your schedule events (or `agentId`'s, any agent of your workspace), optionally of one status. */
  async getSchedule(options: { status?: ScheduleStatus; agentId?: string } = {}): Promise<{ events: ScheduleEvent[] }> {
    return { events: await this.http.data('GET', '/schedule/events', { query: { ...options } }) };
  }
  async getScheduleEvent(eventId: string): Promise<{ event: ScheduleEvent }> {
    return { event: await this.http.data('GET', `/schedule/events/${enc(eventId)}`) };
  }
  /** Pause (`{status: 'paused'}`), resume (`'active'`), reschedule or rename an event. */
  updateScheduleEvent(eventId: string, patch: ScheduleEventPatch): Promise<ScheduleEventResult> {
    return this.http.data('PATCH', `/schedule/events/${enc(eventId)}`, { body: patch, idempotent: true });
  }
  async deleteScheduleEvent(eventId: string): Promise<void> {
    await this.http.raw('DELETE', `/schedule/events/${enc(eventId)}`);
  }
  /** Recorded runs, newest first (default 20, at most 200). */
  async getOccurrences(eventId: string, limit?: number): Promise<{ occurrences: ScheduleOccurrence[] }> {
    return { occurrences: await this.http.data('GET', `/schedule/events/${enc(eventId)}/occurrences`, { query: limit === undefined ? {} : { limit } }) };
  }
  /**
   * Every run in `[from, to)` across the workspace's active events (or one agent's, or one
   * channel's): past runs with their recorded status, future ones computed. The range and the
   * count are capped; `truncated` and `notice` say when.
   */
  getCalendar(options: { from: string | Date; to: string | Date; agentId?: string; channelId?: string; includeInactive?: boolean }): Promise<ScheduleCalendar> {
    const { from, to, ...rest } = options;
    const iso = (d: string | Date) => (typeof d === 'string' ? d : d.toISOString());
    return this.http.data('GET', '/schedule/calendar', { query: { from: iso(from), to: iso(to), ...rest } });
  }

  // ---- admin -------------------------------------------------------------------------------

  /** Creates an agent (admin). The returned `apiKey` is shown only this once. */
  createAgent(input: { handle: string; displayName?: string; publicKey?: string; isAdmin?: boolean }): Promise<{ agent: Principal; apiKey: string }> {
    return this.http.data('POST', '/agents', { body: input });
  }
  createHuman(input: { email: string; password: string; handle: string; displayName?: string; isAdmin?: boolean }): Promise<{ human: Principal }> {
    return this.http.data('POST', '/humans', { body: input });
  }
  async listPrincipals(options: PageOptions & { kind?: 'human' | 'agent' } = {}): Promise<{ principals: Principal[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<Principal>>('GET', '/principals', { query: { ...options } });
    return { principals: page.data, nextCursor: page.pagination.nextCursor };
  }
  async getPrincipal(principalId: string): Promise<{ principal: Principal }> {
    return { principal: await this.http.data('GET', `/principals/${enc(principalId)}`) };
  }
  /** Admin: every credential of the principal stops working and its open connections close at once. */
  async disablePrincipal(principalId: string): Promise<{ principal: Principal }> {
    return { principal: await this.http.data('POST', `/principals/${enc(principalId)}/disable`, { idempotent: true }) };
  }
  /** Admin: undoes `disablePrincipal` (keys that were not revoked work again). */
  async enablePrincipal(principalId: string): Promise<{ principal: Principal }> {
    return { principal: await this.http.data('POST', `/principals/${enc(principalId)}/enable`, { idempotent: true }) };
  }
  /** The returned `apiKey` is shown only this once. */
  createApiKey(input: { name: string; principalId?: string; scopes?: ApiKeyScope[]; expiresAt?: string; rateLimitPerMinute?: number }): Promise<{ key: ApiKeyInfo; apiKey: string }> {
    return this.http.data('POST', '/keys', { body: input });
  }
  async listApiKeys(options: { principalId?: string } = {}): Promise<{ keys: ApiKeyInfo[] }> {
    return { keys: await this.http.data('GET', '/keys', { query: { ...options } }) };
  }
  async revokeApiKey(keyId: string): Promise<{ key: ApiKeyInfo }> {
    return { key: await this.http.data('DELETE', `/keys/${enc(keyId)}`) };
  }
  /**
   * Invites a human to your workspace (admin). Hand them the returned `token` (shown only this
   * once); they join with `SesameClient.acceptInvite`. Default expiry: 7 days.
   */
  createInvite(input: { email: string; isAdmin?: boolean; expiresInSeconds?: number }): Promise<{ invite: Invite; token: string }> {
    return this.http.data('POST', '/invites', { body: input });
  }
  async listInvites(options: PageOptions = {}): Promise<{ invites: Invite[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<Invite>>('GET', '/invites', { query: { ...options } });
    return { invites: page.data, nextCursor: page.pagination.nextCursor };
  }
  /** Revokes an invite not accepted yet; its token stops working. */
  async revokeInvite(inviteId: string): Promise<{ invite: Invite }> {
    return { invite: await this.http.data('DELETE', `/invites/${enc(inviteId)}`) };
  }

  // ---- credential broker -----------------------------------------------------------------

  /**
   * A single-use token that registers one agent device (admin): hand `token`
   * (`sesame-register:…`) to whoever runs `sesame login`. Default expiry: one day.
   */
  createRegistrationToken(input: { handle?: string; ttlSeconds?: number; vaults?: BrokerVaultGrant[] } = {}): Promise<RegistrationToken> {
    return this.http.data('POST', '/broker/registration-tokens', { body: input });
  }

  /**
   * A device's claim by the user code `sesame login` printed (admin): check its `fingerprint`
   * against the device's `sesame status` before approving. 404 once another workspace decided it.
   */
  async getAgentClaim(userCode: string): Promise<{ claim: BrokerClaim }> {
    return { claim: await this.http.data('GET', `/broker/claims/${enc(userCode)}`) };
  }
  /**
   * Approves a device's claim (admin): it becomes an agent of your workspace, with the handle
   * and vault grants given (you must be allowed to add members to those vaults). Once: a second
   * approval is a `ConflictError`.
   */
  async approveAgentClaim(userCode: string, input: ApproveBrokerClaimInput = {}): Promise<{ claim: BrokerClaim }> {
    return { claim: await this.http.data('POST', `/broker/claims/${enc(userCode)}/approve`, { body: input }) };
  }
  /** Denies a device's claim (admin): its `sesame login` stops with "access_denied". */
  async denyAgentClaim(userCode: string, input: { reason?: string } = {}): Promise<{ claim: BrokerClaim }> {
    return { claim: await this.http.data('POST', `/broker/claims/${enc(userCode)}/deny`, { body: input }) };
  }

  /** Takes the calling agent out: its tokens and connections stop working. */
  async deregisterAgent(): Promise<{ agent: Principal }> {
    return { agent: await this.http.data('POST', '/broker/deregister') };
  }

  /**
   * Sends an HTTP request through the broker, which attaches the secret bound to the URL's
   * hostname on the server; the answer is the upstream's, without the credential. The first
   * call to a hostname waits for a human's approval (up to the server's limit, 5 minutes by
   * default: give the client a `timeoutMs` above it); `onApprovalPending` is called once when
   * that wait begins. A policy refusal is a `ForbiddenError` whose detail names the rule.
   */
  async brokerRequest(input: Omit<BrokerRequestInput, 'waitForApproval'>, options: { onApprovalPending?: (pending: BrokerApprovalPending) => void } = {}): Promise<BrokerResponse> {
    if (options.onApprovalPending) {
      // Ask without waiting first, so the caller learns that a human must approve before the wait.
      const first = await this.http.data<BrokerResponse | BrokerApprovalPending>('POST', '/broker/request', { body: { ...input, waitForApproval: false } });
      if (!('approval' in first)) return first;
      options.onApprovalPending(first);
    }
    return this.http.data<BrokerResponse>('POST', '/broker/request', { body: { ...input, waitForApproval: true } });
  }

  /** The hostnames you can reach through the broker (no secrets). */
  async listBrokerHostnames(): Promise<{ hostnames: BrokerHostname[] }> {
    return { hostnames: await this.http.data('GET', '/broker/hostnames') };
  }

  // ---- vault -------------------------------------------------------------------------------

  /** The vaults you belong to (every vault of the workspace for an admin). */
  async listVaults(): Promise<{ vaults: Vault[] }> {
    return { vaults: await this.http.data('GET', '/vaults') };
  }
  /** Creates a vault; you become its owner. `maxLeaseTtlSeconds` defaults to 3600. */
  async createVault(input: CreateVaultInput): Promise<{ vault: Vault }> {
    return { vault: await this.http.data('POST', '/vaults', { body: input }) };
  }
  /** Adds a member or changes its role (vault owner or admin). */
  /** The vault's members and their roles (any member of the vault). */
  async listVaultMembers(vaultId: string): Promise<{ members: VaultMember[] }> {
    return { members: await this.http.data('GET', `/vaults/${enc(vaultId)}/members`) };
  }
  async addVaultMember(vaultId: string, principalId: string, role: VaultRole): Promise<{ member: VaultMember }> {
    return { member: await this.http.data('POST', `/vaults/${enc(vaultId)}/members`, { body: { principalId, role }, idempotent: true }) };
  }
  async removeVaultMember(vaultId: string, principalId: string): Promise<void> {
    await this.http.raw('DELETE', `/vaults/${enc(vaultId)}/members/${enc(principalId)}`);
  }
  /** Which field keys are masked beyond the defaults (`alwaysMask`) or shown (`neverMask`); vault owner or admin. */
  async updateVaultMaskingPolicy(vaultId: string, policy: Partial<VaultMaskingPolicy>): Promise<{ vault: Vault }> {
    return { vault: await this.http.data('PUT', `/vaults/${enc(vaultId)}/masking-policy`, { body: policy }) };
  }
  /** A vault's items; `q` searches titles, tags and hostnames (never values). */
  async listVaultItems(vaultId: string, options: { q?: string; type?: VaultItemType } = {}): Promise<{ items: VaultItem[] }> {
    return { items: await this.http.data('GET', `/vaults/${enc(vaultId)}/items`, { query: { ...options } }) };
  }
  async createVaultItem(vaultId: string, input: CreateVaultItemInput): Promise<{ item: VaultItem }> {
    return { item: await this.http.data('POST', `/vaults/${enc(vaultId)}/items`, { body: input }) };
  }
  async updateVaultItem(itemId: string, patch: UpdateVaultItemInput): Promise<{ item: VaultItem }> {
    return { item: await this.http.data('PATCH', `/vaults/items/${enc(itemId)}`, { body: patch, idempotent: true }) };
  }
  async deleteVaultItem(itemId: string): Promise<void> {
    await this.http.raw('DELETE', `/vaults/items/${enc(itemId)}`);
  }
  /** An item with its field keys and masked hints (never a masked value). */
  getVaultItem(itemId: string): Promise<VaultItemDetails> {
    return this.http.data('GET', `/vaults/items/${enc(itemId)}`);
  }
  /** Decrypted values of all fields, or of `fields` (vault owners and editors; audited). */
  revealItem(itemId: string, fields?: string[]): Promise<{ fields: Record<string, string> }> {
    return this.http.data('POST', `/vaults/items/${enc(itemId)}/reveal`, { body: fields ? { fields } : {} });
  }
  /** The current RFC 6238 code of the item's TOTP secret (the secret itself never leaves the server). */
  generateTotp(itemId: string): Promise<TotpCode> {
    return this.http.data('POST', `/vaults/items/${enc(itemId)}/totp`, { body: {} });
  }
  /** Asks for just-in-time access to an item: a `pending` lease that a vault owner or admin decides. */
  async requestLease(input: RequestLeaseInput): Promise<{ lease: VaultLease }> {
    return { lease: await this.http.data('POST', '/vaults/leases', { body: input }) };
  }
  /** Leases you asked for and those you may decide. */
  async listLeases(options: { status?: LeaseStatus; vaultId?: string } = {}): Promise<{ leases: VaultLease[] }> {
    return { leases: await this.http.data('GET', '/vaults/leases', { query: { ...options } }) };
  }
  /** Approves a pending lease (vault owner or admin, never its requester); `ttlSeconds` up to the vault's max. */
  async approveLease(leaseId: string, options: { ttlSeconds?: number } = {}): Promise<{ lease: VaultLease }> {
    return { lease: await this.http.data('POST', `/vaults/leases/${enc(leaseId)}/approve`, { body: options }) };
  }
  /** Denies a pending lease; one denial ends it. */
  async denyLease(leaseId: string, options: { reason?: string } = {}): Promise<{ lease: VaultLease }> {
    return { lease: await this.http.data('POST', `/vaults/leases/${enc(leaseId)}/deny`, { body: options }) };
  }
  /** The item's decrypted fields through an approved lease: its requester only, only until it expires (audited). */
  useSecret(leaseId: string): Promise<{ fields: Record<string, string> }> {
    return this.http.data('POST', `/vaults/leases/${enc(leaseId)}/use`, { body: {} });
  }
  /** Extends a lease by `ttlSeconds`, at most the vault's max TTL from now. */
  async renewLease(leaseId: string, options: { ttlSeconds: number }): Promise<{ lease: VaultLease }> {
    return { lease: await this.http.data('POST', `/vaults/leases/${enc(leaseId)}/renew`, { body: options }) };
  }
  /** Ends a lease at once, for good (its requester, a vault owner or an admin). */
  async revokeLease(leaseId: string): Promise<{ lease: VaultLease }> {
    return { lease: await this.http.data('POST', `/vaults/leases/${enc(leaseId)}/revoke`, { body: {}, idempotent: true }) };
  }

  // ---- webhooks ----------------------------------------------------------------------------

  /**
   * Subscribes `url` to events (docs/webhooks.md). The signing `secret` (`whsec_…`) is returned
   * only here and by `rotateWebhookSecret`: store it to verify deliveries.
   */
  createWebhook(input: { url: string; eventTypes: string[]; description?: string }): Promise<{ webhook: Webhook; secret: string }> {
    return this.http.data('POST', '/webhooks', { body: input });
  }
  async listWebhooks(options: PageOptions = {}): Promise<{ webhooks: Webhook[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<Webhook>>('GET', '/webhooks', { query: { ...options } });
    return { webhooks: page.data, nextCursor: page.pagination.nextCursor };
  }
  async getWebhook(webhookId: string): Promise<{ webhook: Webhook }> {
    return { webhook: await this.http.data('GET', `/webhooks/${enc(webhookId)}`) };
  }
  /** Changes the URL or event types, or enables/disables it (enabling clears `disabledReason`). */
  async updateWebhook(webhookId: string, patch: { url?: string; eventTypes?: string[]; description?: string | null; enabled?: boolean }): Promise<{ webhook: Webhook }> {
    return { webhook: await this.http.data('PATCH', `/webhooks/${enc(webhookId)}`, { body: patch, idempotent: true }) };
  }
  /**
   * A new signing secret. The previous one keeps signing beside it (a second `v1,` signature)
   * for `overlapSeconds` (default 24 h), so receivers can switch without losing deliveries.
   */
  rotateWebhookSecret(webhookId: string, options: { overlapSeconds?: number } = {}): Promise<{ secret: string }> {
    return this.http.data('POST', `/webhooks/${enc(webhookId)}/rotate-secret`, { body: options });
  }
  /** Deliveries newest first, each with its attempts (status code, latency, error, response excerpt). */
  async listWebhookDeliveries(webhookId: string, options: { limit?: number; status?: WebhookDeliveryStatus; cursor?: string } = {}): Promise<{ deliveries: WebhookDelivery[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<WebhookDelivery>>('GET', `/webhooks/${enc(webhookId)}/deliveries`, { query: { ...options } });
    return { deliveries: page.data, nextCursor: page.pagination.nextCursor };
  }
  async deleteWebhook(webhookId: string): Promise<void> {
    await this.http.raw('DELETE', `/webhooks/${enc(webhookId)}`);
  }
  /** Sends one delivery again (same `webhook-id`), whatever its status. */
  async replayWebhookDelivery(webhookId: string, deliveryId: string): Promise<{ delivery: WebhookDelivery }> {
    return { delivery: await this.http.data('POST', `/webhooks/${enc(webhookId)}/deliveries/${enc(deliveryId)}/replay`, { idempotent: true }) };
  }
  /** Sends again every delivery of events between `since` and `until` (default now), or only the failed ones. */
  replayWebhookEvents(webhookId: string, input: { since: string | Date; until?: string | Date; onlyFailed?: boolean }): Promise<{ replayed: number }> {
    const body = { since: new Date(input.since).toISOString(), ...(input.until === undefined ? {} : { until: new Date(input.until).toISOString() }), ...(input.onlyFailed === undefined ? {} : { onlyFailed: input.onlyFailed }) };
    return this.http.data('POST', `/webhooks/${enc(webhookId)}/replay`, { body, idempotent: true });
  }
  /** Queues a `webhook.test` event to the endpoint; its delivery shows in `listWebhookDeliveries`. */
  async testWebhook(webhookId: string): Promise<{ delivery: WebhookDelivery }> {
    return { delivery: await this.http.data('POST', `/webhooks/${enc(webhookId)}/test`) };
  }

  // ---- event log ---------------------------------------------------------------------------

  /** Durable events of a stream after `after` — how a client fills a gap it noticed. */
  async getStreamEvents(stream: string, options: { after?: number; limit?: number } = {}): Promise<{ events: SesameEvent[]; nextCursor: string | null; hasMore: boolean }> {
    const page = await this.http.raw<Page<SesameEvent>>('GET', `/streams/${enc(stream)}/events`, { query: { ...options } });
    return { events: page.data, nextCursor: page.pagination.nextCursor, hasMore: page.pagination.hasMore };
  }

  /** Who is online now (up to 100 principals of your workspace); `presence` events tell what changes. */
  async getPresence(principalIds: string[]): Promise<{ presence: Array<{ principalId: string; status: PresenceStatus }> }> {
    return { presence: await this.http.data('GET', '/presence', { query: { principalIds: principalIds.join(',') } }) };
  }

  // ---- audit (admins) ----------------------------------------------------------------------

  /** The workspace's hash-chained audit log, newest first (admin). */
  async listAuditLog(options: PageOptions & { action?: string } = {}): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<AuditEntry>>('GET', '/audit', { query: { ...options } });
    return { entries: page.data, nextCursor: page.pagination.nextCursor };
  }

  /** Recomputes the audit log's hash chain: `valid`, how many `entries`, the first broken one (admin). */
  verifyAuditLog(): Promise<AuditVerification> { return this.http.data('GET', '/audit/verify'); }
  // ---- agent intelligence ------------------------------------------------------------------

  /** Replaces your capabilities with these (`namespace.name` unique); other agents find you by them. */
  async registerCapabilities(capabilities: Capability[]): Promise<{ capabilities: Capability[] }> {
    return { capabilities: await this.http.data('PUT', '/capabilities', { body: { capabilities } }) };
  }
  /** Agents of your workspace, online ones first; `capability` is `namespace.name`, `q` matches handle, name or description. */
  async discoverAgents(options: { capability?: string; q?: string; online?: boolean } = {}): Promise<{ agents: DiscoveredAgent[] }> {
    return { agents: await this.http.data('GET', '/agents/discover', { query: { ...options } }) };
  }
  /** An agent's A2A-style card: name, description and skills (its capabilities). */
  async getAgentCard(agentId: string): Promise<{ card: AgentCard }> {
    return { card: await this.http.data('GET', `/agents/${enc(agentId)}/card`) };
  }

  // ---- tasks -------------------------------------------------------------------------------

  async createTask(channelId: string, input: { title: string; description?: string; priority?: TaskPriority; dueAt?: string; labels?: string[] }): Promise<{ task: Task }> {
    return { task: await this.http.data('POST', `/channels/${enc(channelId)}/tasks`, { body: input }) };
  }
  /** Newest first; follow `nextCursor` for more. */
  async listTasks(channelId: string, options: PageOptions & { status?: TaskStatus; priority?: TaskPriority; assigneeId?: string } = {}): Promise<{ tasks: Task[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<Task>>('GET', `/channels/${enc(channelId)}/tasks`, { query: { ...options } });
    return { tasks: page.data, nextCursor: page.pagination.nextCursor };
  }
  /** Tasks across your channels; by default those assigned to you (`assignee: 'me'`). */
  async listMyTasks(options: PageOptions & { status?: TaskStatus; priority?: TaskPriority } = {}): Promise<{ tasks: Task[]; nextCursor: string | null }> {
    const page = await this.http.raw<Page<Task>>('GET', '/tasks', { query: { assignee: 'me', ...options } });
    return { tasks: page.data, nextCursor: page.pagination.nextCursor };
  }
  async getTask(channelId: string, taskId: string): Promise<{ task: Task }> {
    return { task: await this.http.data('GET', `/channels/${enc(channelId)}/tasks/${enc(taskId)}`) };
  }
  /** A status change follows the transition table (an illegal one is a `ConflictError` naming both states). */
  async updateTask(channelId: string, taskId: string, patch: { title?: string; description?: string | null; priority?: TaskPriority; dueAt?: string | null; labels?: string[]; status?: TaskStatus }): Promise<{ task: Task }> {
    return { task: await this.http.data('PATCH', `/channels/${enc(channelId)}/tasks/${enc(taskId)}`, { body: patch }) };
  }
  /** Takes an open task for yourself; if someone else got there first, a `ConflictError` (409). */
  async claimTask(channelId: string, taskId: string): Promise<{ task: Task }> {
    return { task: await this.http.data('POST', `/channels/${enc(channelId)}/tasks/${enc(taskId)}/claim`) };
  }
  /** Assigns a member of the task's channel with a role (default `assignee`); assigning again changes the role. */
  async addTaskAssignee(channelId: string, taskId: string, principalId: string, role?: string): Promise<{ task: Task }> {
    return { task: await this.http.data('POST', `/channels/${enc(channelId)}/tasks/${enc(taskId)}/assignees`, { body: { principalId, ...(role ? { role } : {}) }, idempotent: true }) };
  }
  async removeTaskAssignee(channelId: string, taskId: string, principalId: string): Promise<{ task: Task }> {
    return { task: await this.http.data('DELETE', `/channels/${enc(channelId)}/tasks/${enc(taskId)}/assignees/${enc(principalId)}`) };
  }
  /** A channel of kind `task` for this task (creator and assignees); asking again returns the same one. */
  async createTaskChannel(channelId: string, taskId: string): Promise<{ channel: Channel }> {
    return { channel: await this.http.data('POST', `/channels/${enc(channelId)}/tasks/${enc(taskId)}/channel`, { idempotent: true }) };
  }

  // ---- task runs ---------------------------------------------------------------------------

  /** Appends a run event (`status`, `log`, `tool_call`, …); `done` ends the run and the task. */
  async appendTaskEvent(taskId: string, event: TaskEventInput): Promise<{ event: TaskEvent }> {
    return { event: await this.http.data('POST', `/tasks/${enc(taskId)}/events`, { body: event }) };
  }
  /** Run events after `after` (default: all), every run, as one JSON page. */
  async getTaskEvents(taskId: string, options: { after?: number; limit?: number } = {}): Promise<{ events: TaskEvent[] }> {
    return { events: await this.http.data('GET', `/tasks/${enc(taskId)}/events`, { query: { ...options } }) };
  }
  /**
   * The task's run events as they happen (`for await (const event of client.streamTask(id))`):
   * replays what follows `after`, then live; reconnects on its own with `Last-Event-ID`; ends
   * after the current run's `done`.
   */
  streamTask(taskId: string, options: StreamTaskOptions = {}): AsyncGenerator<TaskEvent, void, undefined> {
    return streamTaskEvents(this.http, taskId, options);
  }
  /** Answers a `permission_request` of the task's run (a human member, or the task's creator). */
  async respondToPermission(taskId: string, requestId: string, answer: { allow: boolean; reason?: string }): Promise<{ event: TaskEvent }> {
    return { event: await this.http.data('POST', `/tasks/${enc(taskId)}/permissions/${enc(requestId)}`, { body: answer }) };
  }
  /** Cancels the task and ends its run. */
  async cancelTask(taskId: string): Promise<{ task: Task }> {
    return { task: await this.http.data('POST', `/tasks/${enc(taskId)}/cancel`) };
  }
  /** Starts a new run of a failed or canceled task (`task.run` + 1); earlier runs' events stay readable. */
  async retryTask(taskId: string): Promise<{ task: Task }> {
    return { task: await this.http.data('POST', `/tasks/${enc(taskId)}/retry`) };
  }
}
