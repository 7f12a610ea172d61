import { AgentCredentials, StaticCredentials, type Credentials } from './auth.js';
import { RealtimeError } from './errors.js';
import { HttpClient } from './http.js';
import { DEFAULT_OPTIONS, validateOptions, type SesameClientOptions } from './options.js';
import type { Cursors, PresenceStatus } from './protocol/index.js';
import { RealtimeConnection, type ConnectionState } from './realtime/connection.js';
import { MemoryCursorStore } from './realtime/cursor-store.js';
import { GuardedEmitter } from './realtime/guarded-emitter.js';
import { randomBytes } from './runtime.js';
import { SDK_VERSION } from './version.js';
import type {
  ApiKeyInfo, ApiKeyScope, Channel, ChannelKind, ChannelMember, DriveFile, Invite, Manifest, MemberRole, Message, PageOptions, Pagination,
  Principal, ReadReceipt, SendMessageInput, SesameEvent, Tokens, Webhook, WebhookDelivery, WebhookDeliveryStatus,
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
}
