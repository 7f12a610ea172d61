import type { CredentialSource, HttpClient } from './http.js';
import { signChallenge } from './keys.js';
import type { Tokens } from './types.js';

/** What the realtime connection puts in its `auth` frame. */
export type AuthFrameCredentials = { apiKey: string } | { token: string };

export interface Credentials extends CredentialSource {
  authFrame(): Promise<AuthFrameCredentials>;
}

/** An `sk_` API key or a human's access token: fixed, nothing to refresh. */
export class StaticCredentials implements Credentials {
  constructor(private readonly value: string, private readonly kind: 'apiKey' | 'token') {}
  async authorization() { return this.value; }
  async refreshAfterUnauthorized() { return false; }
  async authFrame(): Promise<AuthFrameCredentials> { return this.kind === 'apiKey' ? { apiKey: this.value } : { token: this.value }; }
}

// Refresh this long before expiry so a request never leaves with a token about to lapse.
const EXPIRY_MARGIN_MS = 30_000;

/**
 * Ed25519 challenge–response: sign a server nonce with the agent's private key for a
 * short-lived access token, refresh it before it expires (falling back to a new challenge),
 * and share one in-flight login between concurrent callers.
 */
export class AgentCredentials implements Credentials {
  private accessToken?: string;
  private refreshToken?: string;
  private expiresAt = 0;
  private inflight?: Promise<string>;

  constructor(
    private readonly http: HttpClient,
    private readonly agent: { handle: string; privateKey: string; workspaceId?: string },
    private readonly now: () => number = Date.now,
  ) {}

  async authorization(): Promise<string> {
    if (this.accessToken && this.now() < this.expiresAt - EXPIRY_MARGIN_MS) return this.accessToken;
    return this.renew();
  }

  async refreshAfterUnauthorized(): Promise<boolean> {
    this.expiresAt = 0;
    await this.renew();
    return true;
  }

  async authFrame(): Promise<AuthFrameCredentials> { return { token: await this.authorization() }; }

  private renew(): Promise<string> {
    this.inflight ??= this.obtain().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async obtain(): Promise<string> {
    let tokens: Tokens | undefined;
    if (this.refreshToken) {
      tokens = await this.http.data<Tokens>('POST', '/auth/refresh', { body: { refreshToken: this.refreshToken }, anonymous: true, idempotent: false })
        .catch(() => undefined); // A spent or expired refresh token: fall back to a fresh challenge.
    }
    if (!tokens) {
      const { handle, privateKey, workspaceId } = this.agent;
      const { nonce } = await this.http.data<{ nonce: string }>('POST', '/auth/challenge', { body: { handle, ...(workspaceId ? { workspaceId } : {}) }, anonymous: true, idempotent: true });
      const signature = signChallenge(privateKey, handle, nonce);
      tokens = await this.http.data<Tokens>('POST', '/auth/verify', { body: { handle, nonce, signature, ...(workspaceId ? { workspaceId } : {}) }, anonymous: true });
    }
    this.accessToken = tokens.accessToken;
    this.refreshToken = tokens.refreshToken;
    this.expiresAt = this.now() + tokens.expiresIn * 1000;
    return tokens.accessToken;
  }
}
