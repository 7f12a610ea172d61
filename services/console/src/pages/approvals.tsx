import type { LeaseRequestData, Principal, VaultLease } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useClientEvent, useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { Link } from '../router.js';
import type { Session } from '../session.js';
import type { ConsolePage, PageProps } from './page.js';

/** A pending request with the names the page shows beside it. */
interface Request { lease: VaultLease; itemTitle: string; vaultName: string; requester: string }

/** Pending leases the signed-in principal may decide (the list also holds its own requests, left out). */
async function pendingFor(session: Session): Promise<VaultLease[]> {
  const { leases } = await session.client.listLeases({ status: 'pending' });
  return leases.filter((l) => l.requesterId !== session.me.id);
}

async function withNames(session: Session, leases: VaultLease[]): Promise<Request[]> {
  const { client } = session;
  const [vaults, principals] = await Promise.all([
    client.listVaults().then((r) => r.vaults, () => []),
    client.listPrincipals({ limit: 100 }).then((r) => r.principals, (): Principal[] => []),
  ]);
  const itemIds = [...new Set(leases.map((l) => l.itemId))];
  const titles = new Map(await Promise.all(itemIds.map(async (id) => [id, await client.getVaultItem(id).then((d) => d.item.title, () => id)] as const)));
  return leases.map((lease) => {
    const who = principals.find((p) => p.id === lease.requesterId);
    return {
      lease,
      itemTitle: titles.get(lease.itemId) ?? lease.itemId,
      vaultName: vaults.find((v) => v.id === lease.vaultId)?.name ?? lease.vaultId,
      requester: who ? `${who.displayName} (@${who.handle})` : lease.requesterId,
    };
  });
}

/** Shows a browser notification when the human allowed them; never throws (no API, denied, or a browser that refuses). */
function notify(data: LeaseRequestData): void {
  try {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const where = data.lease.hostname ? ` for ${data.lease.hostname}` : '';
    new Notification('Sesame: approval requested', { body: `@${data.requester.handle} asks for ${data.item.title}${where}: ${data.lease.reason}`, tag: data.lease.id });
  } catch { /* notifications are a courtesy */ }
}

/** The pending count in the navigation, kept live; also where a new request raises a browser notification. */
function ApprovalsBadge(props: { session: Session }): JSX.Element | null {
  const { session } = props;
  const pending = useLoad(() => pendingFor(session), [session]);
  useClientEvent(session.client, 'vault.lease_request', (event) => { notify(event.data); pending.reload(); });
  useClientEvent(session.client, 'vault.lease_updated', () => { pending.reload(); });
  useEffect(() => {
    // The approvals page tells the badge when it decided one.
    const onChange = () => { pending.reload(); };
    window.addEventListener('sesame:approvals-changed', onChange);
    return () => { window.removeEventListener('sesame:approvals-changed', onChange); };
  }, [pending.reload]);
  const count = pending.data?.length ?? 0;
  if (count === 0) return null;
  return <span class="badge live nav-badge" aria-label={`${count} pending`}>{count}</span>;
}

const DURATIONS = [5 * 60, 15 * 60, 60 * 60, 4 * 60 * 60, 24 * 60 * 60];
function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function RequestCard(props: { request: Request; session: Session; onDecided: () => void }): JSX.Element {
  const { lease } = props.request;
  const choices = [...new Set([lease.ttlSeconds, ...DURATIONS])].filter((s) => s <= lease.maxTtlSeconds).sort((a, b) => a - b);
  const [ttl, setTtl] = useState(lease.ttlSeconds);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const decide = async (action: () => Promise<unknown>) => {
    setBusy(true);
    try { await action(); setError(undefined); props.onDecided(); } catch (e) { setError(describeError(e)); } finally { setBusy(false); }
  };
  const titleId = `lease-${lease.id}`;
  return (
    <li class="card approval" aria-labelledby={titleId}>
      <div class="card-title" id={titleId}>
        <strong>{props.request.requester}</strong> asks for <strong>{props.request.itemTitle}</strong>
        {lease.hostname ? <> on <code>{lease.hostname}</code> <span class="badge">broker first use</span></> : null}
      </div>
      <dl>
        <dt>Vault</dt><dd>{props.request.vaultName}</dd>
        <dt>Reason</dt><dd>{lease.reason}</dd>
        <dt>Asked</dt><dd>{new Date(lease.requestedAt).toLocaleString()}</dd>
        <dt>Lapses</dt><dd>{new Date(lease.pendingExpiresAt).toLocaleString()}</dd>
      </dl>
      {error ? <p class="error" role="alert">{error}</p> : null}
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void decide(() => props.session.client.approveLease(lease.id, { ttlSeconds: ttl })); }}>
        <label>Duration{' '}
          <select value={String(ttl)} onChange={(e) => { setTtl(Number(e.currentTarget.value)); }}>
            {choices.map((s) => <option key={s} value={String(s)}>{duration(s)}{s === lease.ttlSeconds ? ' (asked)' : ''}</option>)}
          </select>
        </label>
        <button type="submit" class="primary" disabled={busy}>Approve</button>
      </form>
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void decide(() => props.session.client.denyLease(lease.id, reason ? { reason } : {})); }}>
        <label>Reason <input value={reason} placeholder="optional" onInput={(e) => { setReason(e.currentTarget.value); }} /></label>
        <button type="submit" class="danger" disabled={busy}>Deny</button>
      </form>
    </li>
  );
}

function NotificationToggle(): JSX.Element | null {
  const [permission, setPermission] = useState(() => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission));
  if (permission !== 'default') return null;
  const ask = () => {
    try {
      void Notification.requestPermission().then(setPermission, () => { /* left as it was */ });
    } catch { /* an old browser without the promise form */ }
  };
  return <p><button type="button" class="link" onClick={ask}>Notify me of new requests</button></p>;
}

/** Pending lease and broker first-use requests the human may decide, live. */
function ApprovalsPage(props: PageProps): JSX.Element {
  const { session } = props;
  const requests = useLoad(async () => withNames(session, await pendingFor(session)), [session]);
  const changed = () => { requests.reload(); window.dispatchEvent(new Event('sesame:approvals-changed')); };
  useClientEvent(session.client, 'vault.lease_request', () => { requests.reload(); });
  useClientEvent(session.client, 'vault.lease_updated', () => { requests.reload(); });
  return (
    <section class="page">
      <h1>Approvals</h1>
      {session.me.isAdmin ? <p class="muted">An agent's <code>sesame login</code> printed a code? <Link href="/claim">Approve an agent</Link></p> : null}
      <NotificationToggle />
      {requests.error ? <p class="error" role="alert">{requests.error}</p> : null}
      {requests.data?.length === 0 ? <p class="muted">No pending requests. New ones appear here as agents ask.</p> : null}
      <ul class="cards approvals" aria-label="Pending requests">
        {requests.data?.map((r) => <RequestCard key={r.lease.id} request={r} session={session} onDecided={changed} />)}
      </ul>
    </section>
  );
}

export const approvalsPage: ConsolePage = { path: '/approvals', title: 'Approvals', nav: 'Approvals', badge: ApprovalsBadge, component: ApprovalsPage };
