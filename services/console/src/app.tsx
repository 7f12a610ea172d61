import { RealtimeAuthError, UnauthorizedError, type ConnectionState } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useClientEvent } from './hooks.js';
import { PAGES } from './pages/index.js';
import { SignIn } from './pages/sign-in.js';
import { describeError } from './problem.js';
import { Link, matchPath, navigate, usePath } from './router.js';
import { closeSession, renewSession, renewalDelayMs, resumeSession, type Session } from './session.js';

/** The realtime connection's state, shown only while it is not open (a fixed pill: nothing below moves). */
function ConnectionBanner(props: { session: Session }): JSX.Element | null {
  const { client } = props.session;
  const [state, setState] = useState<ConnectionState>(client.connectionState);
  const [detail, setDetail] = useState<string>();
  const update = () => { setState(client.connectionState); };
  useClientEvent(client, 'connected', () => { update(); setDetail(undefined); });
  useClientEvent(client, 'disconnected', update);
  useClientEvent(client, 'reconnecting', (info) => { update(); setDetail(`attempt ${info.attempt}`); });
  useClientEvent(client, 'error', (error) => { update(); setDetail(describeError(error)); });
  if (state === 'open') return null;
  const text = state === 'closed' ? 'Live updates stopped' : state === 'reconnecting' ? 'Reconnecting…' : 'Connecting…';
  return (
    <div class={`connection ${state}`} role="status" aria-live="polite">
      {text}{detail && state !== 'connecting' ? <span class="muted"> ({detail})</span> : null}
      {state === 'closed' ? <button type="button" class="link" onClick={() => { client.connect().catch(() => { /* shown by this banner */ }); }}>Retry</button> : null}
    </div>
  );
}

type Theme = 'light' | 'dark' | 'system';
function useTheme(): [Theme, (t: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('sesame.console.theme') as Theme | null) ?? 'system');
  useEffect(() => {
    if (theme === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    localStorage.setItem('sesame.console.theme', theme);
  }, [theme]);
  return [theme, setTheme];
}

function Shell(props: { session: Session; onSignOut: () => void }): JSX.Element {
  const path = usePath();
  const [theme, setTheme] = useTheme();
  const { me } = props.session;
  const pages = PAGES.filter((p) => !p.adminOnly || me.isAdmin);
  const route = pages.map((page) => ({ page, params: matchPath(page.path, path) })).find((r) => r.params !== null);
  useEffect(() => { if (path === '/' || path === '') navigate('/channels'); }, [path]);
  useEffect(() => { if (route) document.title = `${route.page.title} · Sesame`; }, [route?.page]);
  const Page = route?.page.component;
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <span class="brand">Sesame</span>
        <nav aria-label="Console">
          <ul>
            {pages.filter((p) => p.nav).map((p) => (
              <li key={p.path}><Link href={p.path} current={path === p.path || path.startsWith(`${p.path}/`)}>{p.nav}{p.badge ? <> <p.badge session={props.session} /></> : null}</Link></li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <label class="visually-hidden" for="theme">Theme</label>
          <select id="theme" value={theme} onChange={(e) => { setTheme(e.currentTarget.value as Theme); }}>
            <option value="system">Auto</option><option value="light">Light</option><option value="dark">Dark</option>
          </select>
          <span class="me" title={`@${me.handle}`}>{me.displayName}</span>
          <button type="button" onClick={props.onSignOut}>Sign out</button>
        </div>
      </header>
      <ConnectionBanner session={props.session} />
      <main id="main" tabIndex={-1}>
        {Page && route.params ? <Page session={props.session} params={route.params} /> : <section class="page"><h1>Not found</h1><p>No console page at <code>{path}</code>. <Link href="/channels">Go to channels</Link></p></section>}
      </main>
    </>
  );
}

export function App(): JSX.Element {
  const [session, setSession] = useState<Session | null>();
  const [notice, setNotice] = useState<string>();
  useEffect(() => {
    resumeSession().then(setSession, (e: unknown) => { setNotice(describeError(e)); setSession(null); });
  }, []);
  // A credential that stops working (revoked key, expired token) sends the human back to sign in.
  useEffect(() => {
    if (!session) return;
    const onError = (error: Error) => {
      if (error instanceof UnauthorizedError || error instanceof RealtimeAuthError) { void closeSession(session); setNotice('Your session ended: sign in again.'); setSession(null); }
    };
    session.client.on('error', onError);
    // A human's session renews itself before its access token lapses.
    const delay = renewalDelayMs(session);
    const timer = delay === undefined ? undefined : setTimeout(() => {
      renewSession(session).then(setSession, (error: unknown) => {
        void closeSession(session);
        setNotice(`Your session ended: sign in again (${describeError(error)})`);
        setSession(null);
      });
    }, delay);
    return () => { session.client.off('error', onError); clearTimeout(timer); };
  }, [session]);
  if (session === undefined) return <p class="loading" role="status">Loading…</p>;
  if (session === null) return <SignIn notice={notice} onSignedIn={(s) => { setNotice(undefined); setSession(s); }} />;
  return <Shell session={session} onSignOut={() => { void closeSession(session); setSession(null); }} />;
}
