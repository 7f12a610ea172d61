import { SesameClient, SesameError, type Principal } from '@sesamespace/sdk';

/** How the console signed in: a human's access token, or an API key (the bootstrap admin has only a key). */
export type Credential = { kind: 'token'; token: string } | { kind: 'apiKey'; apiKey: string };

export interface Session {
  client: SesameClient;
  me: Principal;
  credential: Credential;
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

function clientFor(credential: Credential): SesameClient {
  const auth = credential.kind === 'token' ? { token: credential.token } : { apiKey: credential.apiKey };
  return new SesameClient({ apiUrl, wsUrl: gatewayUrl(), ...auth });
}

/**
 * Checks the credential (`getMe`), then opens the realtime connection. Kept in sessionStorage:
 * it lives as long as the tab, and the strict CSP leaves no way for foreign script to read it.
 */
export async function openSession(credential: Credential): Promise<Session> {
  const client = clientFor(credential);
  const me = await client.getMe();
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credential));
  // Not awaited: the pages work over REST while the socket connects, and the banner shows its state.
  client.connect().catch(() => { /* reported through the client's `error` and `disconnected` events */ });
  return { client, me, credential };
}

/** The credential of this tab's earlier sign-in, if it still works. */
export async function resumeSession(): Promise<Session | null> {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (!stored) return null;
  try {
    return await openSession(JSON.parse(stored) as Credential);
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
