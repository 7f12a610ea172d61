import type { BrokerClaim } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { navigate } from '../router.js';
import type { ConsolePage, PageProps } from './page.js';

const STATUS_TEXT: Record<BrokerClaim['status'], string> = {
  pending: 'Waiting for your decision',
  approved: 'Approved: the device finishes signing in on its own.',
  denied: 'Denied: the device\'s sesame login stopped.',
  expired: 'Expired: nobody decided in time. Ask the agent to run sesame login again.',
};

function OnlyAdmins(): JSX.Element {
  return <section class="page"><h1>Approve an agent</h1><p>Only workspace admins approve agents. Send the claim link to an admin of your workspace.</p></section>;
}

/** `/claim`: where the human types the code `sesame login` printed, when they did not follow its link. */
function ClaimCodePage(props: PageProps): JSX.Element {
  const [code, setCode] = useState('');
  if (!props.session.me.isAdmin) return <OnlyAdmins />;
  return (
    <section class="page">
      <h1>Approve an agent</h1>
      <p>An agent that runs <code>sesame login</code> prints a link and a code such as <code>ABCD-EFGH</code>.</p>
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); if (code.trim()) navigate(`/claim/${encodeURIComponent(code.trim().toUpperCase())}`); }}>
        <label>Code <input value={code} placeholder="ABCD-EFGH" autoComplete="off" onInput={(e) => { setCode(e.currentTarget.value); }} /></label>
        <button type="submit" class="primary">Continue</button>
      </form>
    </section>
  );
}

/**
 * `/claim/:userCode`, the page `sesame login` (Mode B) links to: the admin checks the code and the
 * device fingerprint against what the agent printed, picks the handle and the vaults it may
 * request leases from, and approves or denies. The agent is created in the admin's workspace.
 */
function ClaimPage(props: PageProps): JSX.Element {
  const { client, me } = props.session;
  const userCode = props.params.userCode;
  const claim = useLoad(async () => (await client.getAgentClaim(userCode)).claim, [client, userCode]);
  const vaults = useLoad(async () => (await client.listVaults()).vaults, [client]);
  const [decided, setDecided] = useState<BrokerClaim>();
  const [handle, setHandle] = useState<string>();
  const [granted, setGranted] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (!me.isAdmin) return <OnlyAdmins />;
  const current = decided ?? claim.data;
  const decide = async (action: () => Promise<{ claim: BrokerClaim }>) => {
    setBusy(true);
    try { setDecided((await action()).claim); setError(undefined); } catch (e) { setError(describeError(e)); } finally { setBusy(false); }
  };
  const approve = () => decide(() => client.approveAgentClaim(userCode, {
    ...(handle?.trim() ? { handle: handle.trim() } : {}),
    vaults: [...granted].map((vaultId) => ({ vaultId, role: 'requester' as const })),
  }));
  const toggle = (vaultId: string, on: boolean) => { const next = new Set(granted); if (on) next.add(vaultId); else next.delete(vaultId); setGranted(next); };
  return (
    <section class="page">
      <h1>Approve an agent</h1>
      {claim.error ? <p class="error" role="alert">{claim.error}</p> : null}
      {error ? <p class="error" role="alert">{error}</p> : null}
      {current ? (
        <div class="card claim-card" aria-label="Agent claim">
          <p>Approve only if this code and fingerprint match what the agent's <code>sesame login</code> printed.</p>
          <dl>
            <dt>Code</dt><dd><code class="claim-code">{current.userCode}</code></dd>
            <dt>Device fingerprint</dt><dd><code>{current.fingerprint}</code></dd>
            <dt>Suggested handle</dt><dd>{current.handle ? `@${current.handle}` : <span class="muted">none</span>}</dd>
            <dt>Asked</dt><dd>{new Date(current.createdAt).toLocaleString()}</dd>
            <dt>Expires</dt><dd>{new Date(current.expiresAt).toLocaleString()}</dd>
            <dt>Status</dt><dd role="status">{STATUS_TEXT[current.status]}{current.agentId ? <> Agent <code>{current.agentId}</code></> : null}</dd>
          </dl>
          {current.status === 'pending' ? (
            <>
              <form class="stack" onSubmit={(e) => { e.preventDefault(); void approve(); }}>
                <label>Handle <input value={handle ?? current.handle ?? ''} placeholder="generated when empty" onInput={(e) => { setHandle(e.currentTarget.value); }} /></label>
                {vaults.data && vaults.data.length > 0 ? (
                  <fieldset>
                    <legend>May request leases in</legend>
                    {vaults.data.map((v) => (
                      <label key={v.id} class="check"><input type="checkbox" checked={granted.has(v.id)} onChange={(e) => { toggle(v.id, e.currentTarget.checked); }} /> {v.name}</label>
                    ))}
                  </fieldset>
                ) : null}
                <button type="submit" class="primary" disabled={busy}>Approve agent</button>
              </form>
              <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void decide(() => client.denyAgentClaim(userCode, reason ? { reason } : {})); }}>
                <label>Reason <input value={reason} placeholder="optional" onInput={(e) => { setReason(e.currentTarget.value); }} /></label>
                <button type="submit" class="danger" disabled={busy}>Deny</button>
              </form>
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

export const claimCodePage: ConsolePage = { path: '/claim', title: 'Approve an agent', component: ClaimCodePage };
export const claimPage: ConsolePage = { path: '/claim/:userCode', title: 'Approve an agent', component: ClaimPage };
