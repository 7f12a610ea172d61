import { SesameClient, type SetupStatus } from '@sesamespace/sdk';
import type { JSX, TargetedEvent } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { describeError } from '../problem.js';
import { apiUrl, openSession, tokenCredential, type Session } from '../session.js';

type Mode = 'password' | 'apiKey' | 'setup';

/**
 * Sign in with email and password, or with an API key (the admin that `npm start` bootstraps
 * holds only a key); before setup is complete, create the first admin instead.
 */
export function SignIn(props: { onSignedIn: (session: Session) => void; notice?: string }): JSX.Element {
  const [setup, setSetup] = useState<SetupStatus>();
  const [mode, setMode] = useState<Mode>('password');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [fields, setFields] = useState({ email: '', password: '', apiKey: '', displayName: '', workspaceName: '' });
  useEffect(() => {
    SesameClient.getSetupStatus({ apiUrl }).then(
      (status) => { setSetup(status); if (!status.setupComplete) setMode('setup'); },
      (e: unknown) => { setError(describeError(e)); },
    );
  }, []);
  const set = (name: keyof typeof fields) => (e: TargetedEvent<HTMLInputElement>) => { setFields({ ...fields, [name]: e.currentTarget.value }); };

  const submit = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (mode === 'apiKey') {
        props.onSignedIn(await openSession({ kind: 'apiKey', apiKey: fields.apiKey.trim() }));
      } else {
        const tokens = mode === 'setup'
          ? await SesameClient.signup({ apiUrl, email: fields.email, password: fields.password, displayName: fields.displayName, ...(fields.workspaceName ? { workspaceName: fields.workspaceName } : {}) })
          : await SesameClient.login({ apiUrl, email: fields.email, password: fields.password });
        props.onSignedIn(await openSession(tokenCredential(tokens)));
      }
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form class="card" onSubmit={(e) => { e.preventDefault(); void submit(); }} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">{mode === 'setup' ? 'Set up Sesame' : 'Sign in to Sesame'}</h1>
        {props.notice ? <p class="notice" role="status">{props.notice}</p> : null}
        {mode === 'setup' ? <p class="muted">No admin exists yet: create the first one. Setup runs only once.</p> : null}
        {mode !== 'setup' ? (
          <div class="tabs" role="group" aria-label="How to sign in">
            <button type="button" aria-pressed={mode === 'password'} onClick={() => { setMode('password'); }}>Email and password</button>
            <button type="button" aria-pressed={mode === 'apiKey'} onClick={() => { setMode('apiKey'); }}>API key</button>
          </div>
        ) : null}
        {mode === 'apiKey' ? (
          <label>API key
            <input type="password" name="apiKey" autocomplete="off" required placeholder="sk_…" value={fields.apiKey} onInput={set('apiKey')} />
            <span class="hint">The admin key <code>npm start</code> printed on first start works here.</span>
          </label>
        ) : (
          <>
            {mode === 'setup' ? (
              <>
                <label>Your name <input name="displayName" required autocomplete="name" value={fields.displayName} onInput={set('displayName')} /></label>
                <label>Workspace name <input name="workspaceName" placeholder="optional" value={fields.workspaceName} onInput={set('workspaceName')} /></label>
              </>
            ) : null}
            <label>Email <input type="email" name="email" required autocomplete="username" value={fields.email} onInput={set('email')} /></label>
            <label>Password <input type="password" name="password" required autocomplete={mode === 'setup' ? 'new-password' : 'current-password'} value={fields.password} onInput={set('password')} /></label>
          </>
        )}
        {error ? <p class="error" role="alert">{error}</p> : null}
        <button type="submit" class="primary" disabled={busy}>{mode === 'setup' ? 'Create admin and sign in' : 'Sign in'}</button>
        {setup && !setup.hasAdmin && setup.setupComplete ? <p class="muted small">No enabled admin is left on this server.</p> : null}
      </form>
    </main>
  );
}
