import type { PresenceEvent } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useClientEvent, useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { navigate } from '../router.js';
import type { ConsolePage, PageProps } from './page.js';

/** Every agent of the workspace, online or not, with its capabilities and a way to open a DM with it. */
function AgentsPage(props: PageProps): JSX.Element {
  const { client } = props.session;
  const agents = useLoad(async () => (await client.listPrincipals({ kind: 'agent', limit: 100 })).principals, [client]);
  // What each agent says it can do (`registerCapabilities`), the skills of its agent card.
  const discovered = useLoad(async () => new Map((await client.discoverAgents()).agents.map((a) => [a.id, a.capabilities])), [client]);
  const [presence, setPresence] = useState<Map<string, PresenceEvent['status']>>(new Map());
  const [error, setError] = useState<string>();
  const ids = agents.data?.map((a) => a.id).join(',') ?? '';
  useEffect(() => {
    if (!ids) return;
    // Live presence (subscribed before the snapshot below is read) of every listed agent, not only those sharing a channel with you.
    const list = ids.split(',');
    client.subscribePresence(list);
    return () => { client.unsubscribePresence(list); };
  }, [client, ids]);
  useEffect(() => {
    if (!ids) return;
    client.getPresence(ids.split(',')).then(
      (r) => { setPresence(new Map(r.presence.map((p) => [p.principalId, p.status]))); },
      () => { /* shown as offline */ },
    );
  }, [client, ids]);
  useClientEvent(client, 'presence', (e) => { setPresence((old) => new Map(old).set(e.principalId, e.status)); });
  const openDm = async (principalId: string) => {
    try {
      const { channel } = await client.createDm(principalId);
      navigate(`/channels/${channel.id}`);
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <section class="page">
      <h1>Agents</h1>
      {agents.error ?? error ? <p class="error" role="alert">{agents.error ?? error}</p> : null}
      {agents.data?.length === 0 ? <p class="muted">No agents yet: create one with <code>createAgent</code> or on the Admin page.</p> : null}
      <ul class="cards">
        {agents.data?.map((a) => {
          const status = presence.get(a.id) ?? 'offline';
          return (
            <li key={a.id} class="card agent-card">
              <div class="card-title"><span class={`dot ${status}`} aria-hidden="true" /> <strong>{a.displayName}</strong> <span class="muted">@{a.handle}</span></div>
              <dl>
                <dt>Status</dt><dd>{status}</dd>
                <dt>Sign-in</dt><dd>{a.publicKey ? 'Ed25519 key' : 'API key'}</dd>
                <dt>Since</dt><dd>{new Date(a.createdAt).toLocaleDateString()}</dd>
                {a.isAdmin ? <><dt>Role</dt><dd>admin</dd></> : null}
                <dt>Capabilities</dt>
                <dd>{(discovered.data?.get(a.id) ?? []).length === 0 ? <span class="muted">none registered</span> : (
                  <ul class="capabilities">
                    {discovered.data?.get(a.id)?.map((c) => <li key={`${c.namespace}.${c.name}`} title={c.description ?? ''}><code>{c.namespace}.{c.name}</code></li>)}
                  </ul>
                )}</dd>
              </dl>
              {a.id !== props.session.me.id ? <button type="button" onClick={() => { void openDm(a.id); }}>Message</button> : null}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export const agentsPage: ConsolePage = { path: '/agents', title: 'Agents', nav: 'Agents', component: AgentsPage };
