import { MemoryCursorStore, SesameClient, SesameError, type CursorStore, type Principal, type Tokens } from '@sesamespace/sdk';

/**
 * How the console signed in: a human's access token (with the refresh token that renews it and
 * when it expires, epoch milliseconds), or an API key (the bootstrap admin has only a key).
 */
export type Credential = { kind: 'token'; token: string; refreshToken: string; expiresAt: number } | { kind: 'apiKey'; apiKey: string };

export interface Session {
  client: SesameClient;
  me: Principal;
  credential: Credential;
  /** Shared by the clients of one sign-in, so a renewed session resumes the streams where the last one stopped. */
  cursorStore: CursorStore;
}

export function tokenCredential(tokens: Tokens): Credential {
  return { kind: 'token', token: tokens.accessToken, refreshToken: tokens.refreshToken, expiresAt: Date.now() + tokens.expiresIn * 1000 };
}

const STORAGE_KEY = 'sesame.console.credential';

/** The api that served this page is the api the console talks to. */
export const apiUrl = window.location.origin;

/**
 * The realtime gateway, from the `sesame-gateway` meta tag the api fills in: a full URL
 * (`SESAME_PUBLIC_WS_URL`), or `:port` on this page's host (the embedded default, port 13532).
 */
function gatewayUrl(): string {
  const value = document.querySelector<HTMLMetaElement>('meta[name="sesame-gateway"]')?.content ?? '';
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (/^wss?:\/\//.test(value)) return value;
  const port = /^:\d+$/.test(value) ? value : ':13532';
  return `${scheme}//${window.location.hostname}${port}`;
}

function clientFor(credential: Credential, cursorStore: CursorStore): SesameClient {
  const auth = credential.kind === 'token' ? { token: credential.token } : { apiKey: credential.apiKey };
  return new SesameClient({ apiUrl, wsUrl: gatewayUrl(), cursorStore, ...auth });
}

/**
 * Checks the credential (`getMe`), then opens the realtime connection. Kept in sessionStorage:
 * it lives as long as the tab, and the strict CSP leaves no way for foreign script to read it.
 */
export async function openSession(credential: Credential, cursorStore: CursorStore = new MemoryCursorStore()): Promise<Session> {
  const client = clientFor(credential, cursorStore);
  const me = await client.getMe();
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credential));
  // Not awaited: the pages work over REST while the socket connects, and the banner shows its state.
  client.connect().catch(() => { /* reported through the client's `error` and `disconnected` events */ });
  return { client, me, credential, cursorStore };
}

/** When a token session should renew: three quarters into its token's life (never sooner than 5 s). */
export function renewalDelayMs(session: Session): number | undefined {
  if (session.credential.kind !== 'token') return undefined;
  return Math.max(5_000, (session.credential.expiresAt - Date.now()) * 0.75);
}

/**
 * A human's access token lasts minutes (`SESAME_ACCESS_TOKEN_TTL_SECONDS`): trade the refresh
 * token for new ones and continue with a new client on the same cursors.
 */
export async function renewSession(session: Session): Promise<Session> {
  if (session.credential.kind !== 'token') return session;
  const tokens = await SesameClient.refresh({ apiUrl, refreshToken: session.credential.refreshToken });
  const next = await openSession(tokenCredential(tokens), session.cursorStore);
  await session.client.disconnect();
  return next;
}

/** The credential of this tab's earlier sign-in, if it still works. */
export async function resumeSession(): Promise<Session | null> {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (!stored) return null;
  try {
    let credential = JSON.parse(stored) as Credential;
    // A reload after the access token lapsed: renew it first.
    if (credential.kind === 'token' && credential.expiresAt < Date.now() + 30_000) {
      credential = tokenCredential(await SesameClient.refresh({ apiUrl, refreshToken: credential.refreshToken }));
    }
    return await openSession(credential);
  } catch (error) {
    // A credential the server refuses is forgotten; anything else (server down) keeps it for a retry.
    if (error instanceof SesameError && error.status === 401) sessionStorage.removeItem(STORAGE_KEY);
    throw error;
  }
}

export async function closeSession(session: Session): Promise<void> {
  sessionStorage.removeItem(STORAGE_KEY);
  await session.client.disconnect();
}
