import type { ApiKeyScope, AuditVerification } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import type { ConsolePage, PageProps } from './page.js';

function Principals(props: PageProps): JSX.Element {
  const { client } = props.session;
  const principals = useLoad(async () => (await client.listPrincipals({ limit: 100 })).principals, [client]);
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<string>();
  const [handle, setHandle] = useState('');
  const createAgent = async () => {
    try {
      const { agent, apiKey } = await client.createAgent({ handle });
      setCreated(`Agent @${agent.handle} created. Its API key, shown only now: ${apiKey}`);
      setHandle('');
      setError(undefined);
      principals.reload();
    } catch (e) { setError(describeError(e)); }
  };
  return (
    <section aria-labelledby="principals-title">
      <h2 id="principals-title">Principals</h2>
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void createAgent(); }}>
        <label>New agent handle <input value={handle} required onInput={(e) => { setHandle(e.currentTarget.value); }} /></label>
        <button type="submit">Create agent</button>
      </form>
      {created ? <p class="notice" role="status"><code class="secret">{created}</code></p> : null}
      {(principals.error ?? error) ? <p class="error" role="alert">{principals.error ?? error}</p> : null}
      <div class="table-wrap">
        <table>
          <thead><tr><th>Name</th><th>Handle</th><th>Kind</th><th>Admin</th><th>Created</th></tr></thead>
          <tbody>
            {principals.data?.map((p) => (
              <tr key={p.id}><td>{p.displayName}</td><td>@{p.handle}</td><td>{p.kind}</td><td>{p.isAdmin ? 'yes' : ''}</td><td>{new Date(p.createdAt).toLocaleDateString()}</td></tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function ApiKeys(props: PageProps): JSX.Element {
  const { client } = props.session;
  const keys = useLoad(async () => (await client.listApiKeys()).keys, [client]);
  const [error, setError] = useState<string>();
  const revoke = async (id: string, name: string) => {
    if (!window.confirm(`Revoke the key “${name}”? Anything using it stops working at once.`)) return;
    try { await client.revokeApiKey(id); keys.reload(); } catch (e) { setError(describeError(e)); }
  };
  const scopes = (s: ApiKeyScope[]) => s.join(', ');
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      {(keys.error ?? error) ? <p class="error" role="alert">{keys.error ?? error}</p> : null}
      <div class="table-wrap">
        <table>
          <thead><tr><th>Name</th><th>Prefix</th><th>Scopes</th><th>Last used</th><th>State</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
          <tbody>
            {keys.data?.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td><td><code>{k.prefix}…</code></td><td>{scopes(k.scopes)}</td>
                <td>{k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}</td>
                <td>{k.revokedAt ? 'revoked' : k.expiresAt && Date.parse(k.expiresAt) < Date.now() ? 'expired' : 'active'}</td>
                <td>{k.revokedAt ? null : <button type="button" class="danger small" onClick={() => { void revoke(k.id, k.name); }}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function AuditLog(props: PageProps): JSX.Element {
  const { client } = props.session;
  const entries = useLoad(async () => (await client.listAuditLog({ limit: 100 })).entries, [client]);
  const [verification, setVerification] = useState<AuditVerification>();
  const [error, setError] = useState<string>();
  const verify = async () => {
    try { setVerification(await client.verifyAuditLog()); setError(undefined); } catch (e) { setError(describeError(e)); }
  };
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <div class="inline-form">
        <button type="button" onClick={() => { void verify(); }}>Verify hash chain</button>
        {verification ? (
          <p role="status" class={verification.valid ? 'ok' : 'error'}>
            {verification.valid
              ? `Chain intact: ${verification.entries} entries verified.`
              : `Chain broken at entry ${verification.firstInvalidId ?? '?'} (of ${verification.entries}).`}
          </p>
        ) : null}
      </div>
      {(entries.error ?? error) ? <p class="error" role="alert">{entries.error ?? error}</p> : null}
      <div class="table-wrap">
        <table>
          <thead><tr><th>#</th><th>When</th><th>Action</th><th>Actor</th><th>Target</th></tr></thead>
          <tbody>
            {entries.data?.map((e) => (
              <tr key={e.id}>
                <td>{e.id}</td><td>{new Date(e.at).toLocaleString()}</td><td><code>{e.action}</code></td>
                <td>{e.actorId ?? 'system'}</td><td>{e.targetType ? `${e.targetType} ${e.targetId ?? ''}` : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function AdminPage(props: PageProps): JSX.Element {
  return (
    <div class="page admin">
      <h1>Admin</h1>
      <Principals {...props} />
      <ApiKeys {...props} />
      <AuditLog {...props} />
    </div>
  );
}

export const adminPage: ConsolePage = { path: '/admin', title: 'Admin', nav: 'Admin', adminOnly: true, component: AdminPage };
