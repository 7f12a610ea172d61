import type { Principal, TotpCode, Vault, VaultItem, VaultItemDetails, VaultMember, VaultRole } from '@sesamespace/sdk';
import { Fragment, type JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { Link } from '../router.js';
import type { Session } from '../session.js';
import type { ConsolePage, PageProps } from './page.js';

/** The current TOTP code and the seconds it has left, counted down locally; a new code is fetched when it runs out. */
function Totp(props: { session: Session; itemId: string }): JSX.Element {
  const [code, setCode] = useState<TotpCode & { at: number }>();
  const [error, setError] = useState<string>();
  const [now, setNow] = useState(() => Date.now());
  const fetchCode = () => {
    props.session.client.generateTotp(props.itemId).then(
      (c) => { setCode({ ...c, at: Date.now() }); setError(undefined); },
      (e: unknown) => { setError(describeError(e)); },
    );
  };
  const left = code ? Math.max(0, code.expiresIn - Math.floor((now - code.at) / 1000)) : 0;
  useEffect(() => {
    if (!code) return;
    const timer = setInterval(() => { setNow(Date.now()); }, 1000);
    return () => { clearInterval(timer); };
  }, [code]);
  useEffect(() => { if (code && left === 0) fetchCode(); }, [left]);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!code) return <button type="button" onClick={fetchCode}>Show TOTP code</button>;
  return (
    <p class="totp">
      <code class="secret" aria-label="TOTP code">{code.code}</code>{' '}
      <progress max={code.period} value={left} aria-label="Seconds left" /> <span class="muted">{left} s</span>
    </p>
  );
}

/** One item: field keys with masked hints; reveal asks to confirm first and shows the server's refusal as it is. */
function Item(props: { session: Session; vault: Vault; item: VaultItem }): JSX.Element {
  const { client } = props.session;
  const details = useLoad<VaultItemDetails>(() => client.getVaultItem(props.item.id), [client, props.item.id]);
  const [confirming, setConfirming] = useState(false);
  const [revealed, setRevealed] = useState<Record<string, string>>();
  const [error, setError] = useState<string>();
  const reveal = async () => {
    setConfirming(false);
    try { setRevealed((await client.revealItem(props.item.id)).fields); setError(undefined); } catch (e) { setError(describeError(e)); }
  };
  const hasTotp = props.item.type === 'totp' || props.item.fieldKeys.includes('totp');
  return (
    <li class="card vault-item">
      <div class="card-title"><strong>{props.item.title}</strong> <span class="badge">{props.item.type}</span>{props.item.hostname ? <> <code>{props.item.hostname}</code></> : null}</div>
      {details.error ? <p class="error" role="alert">{details.error}</p> : null}
      <dl>
        {(details.data?.fieldKeys ?? props.item.fieldKeys).map((key) => (
          <Fragment key={key}><dt>{key}</dt><dd><code class={revealed ? 'secret' : undefined}>{revealed?.[key] ?? details.data?.fieldHints[key] ?? '••••'}</code></dd></Fragment>
        ))}
      </dl>
      {error ? <p class="error" role="alert">{error}</p> : null}
      {revealed ? <button type="button" onClick={() => { setRevealed(undefined); }}>Hide</button>
        : confirming ? (
          <div class="confirm" role="group" aria-label="Confirm reveal">
            <p>Reveal the values of <strong>{props.item.title}</strong>? The reveal is written to the audit log.</p>
            <button type="button" class="danger" onClick={() => { void reveal(); }}>Reveal values</button>{' '}
            <button type="button" onClick={() => { setConfirming(false); }}>Cancel</button>
          </div>
        ) : <button type="button" onClick={() => { setConfirming(true); }}>Reveal…</button>}
      {hasTotp ? <Totp session={props.session} itemId={props.item.id} /> : null}
    </li>
  );
}

const ROLES: VaultRole[] = ['owner', 'editor', 'viewer', 'requester'];

/** The vault's members (`listVaultMembers`); an owner adds, changes or removes one. */
function Members(props: { session: Session; vault: Vault }): JSX.Element {
  const { client } = props.session;
  const principals = useLoad(async () => (await client.listPrincipals({ limit: 100 })).principals, [client]);
  const [members, setMembers] = useState<VaultMember[]>([]);
  const [principalId, setPrincipalId] = useState('');
  const [role, setRole] = useState<VaultRole>('requester');
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    client.listVaultMembers(props.vault.id).then(({ members: listed }) => { if (live) setMembers(listed); }, (e: unknown) => { if (live) setError(describeError(e)); });
    return () => { live = false; };
  }, [client, props.vault.id]);
  const byId = (id: string): Principal | undefined => principals.data?.find((p) => p.id === id);
  const add = async () => {
    try {
      const { member } = await client.addVaultMember(props.vault.id, principalId, role);
      setMembers((old) => [...old.filter((m) => m.principalId !== member.principalId), member]);
      setError(undefined);
    } catch (e) { setError(describeError(e)); }
  };
  const remove = async (id: string) => {
    try { await client.removeVaultMember(props.vault.id, id); setMembers((old) => old.filter((m) => m.principalId !== id)); } catch (e) { setError(describeError(e)); }
  };
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      {props.vault.role === 'owner' ? (
        <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void add(); }}>
          <label>Principal{' '}
            <select value={principalId} required onChange={(e) => { setPrincipalId(e.currentTarget.value); }}>
              <option value="">Choose…</option>
              {principals.data?.map((p) => <option key={p.id} value={p.id}>{p.displayName} (@{p.handle})</option>)}
            </select>
          </label>
          <label>Role{' '}
            <select value={role} onChange={(e) => { setRole(e.currentTarget.value as VaultRole); }}>
              {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          </label>
          <button type="submit">Add or change</button>
        </form>
      ) : <p class="muted">Only the vault's owners manage its members.</p>}
      {error ? <p class="error" role="alert">{error}</p> : null}
      <ul class="members-list">
        {members.map((m) => {
          const principal = byId(m.principalId);
          return (
            <li key={m.principalId}>{principal?.displayName ?? m.principalId} {principal ? <span class="muted">@{principal.handle}</span> : null} <span class="badge">{m.role}</span>{' '}
              {props.vault.role === 'owner' ? <button type="button" class="small" onClick={() => { void remove(m.principalId); }}>Remove</button> : null}</li>
          );
        })}
      </ul>
    </section>
  );
}

function VaultDetail(props: { session: Session; vault: Vault }): JSX.Element {
  const { client } = props.session;
  const items = useLoad(async () => (await client.listVaultItems(props.vault.id)).items, [client, props.vault.id]);
  return (
    <>
      <h1>{props.vault.name}</h1>
      <p class="muted">{props.vault.description ?? ''} Your role: <strong>{props.vault.role ?? 'none'}</strong>. Leases last at most {Math.round(props.vault.maxLeaseTtlSeconds / 60)} min.</p>
      <section aria-labelledby="items-title">
        <h2 id="items-title">Items</h2>
        {items.error ? <p class="error" role="alert">{items.error}</p> : null}
        {items.data?.length === 0 ? <p class="muted">No items.</p> : null}
        <ul class="cards">
          {items.data?.map((item) => <Item key={item.id} session={props.session} vault={props.vault} item={item} />)}
        </ul>
      </section>
      <Members session={props.session} vault={props.vault} />
    </>
  );
}

/** The vaults the human belongs to; with `:vaultId`, that vault's items (masked) and members. */
function VaultPage(props: PageProps): JSX.Element {
  const { client } = props.session;
  const vaults = useLoad(async () => (await client.listVaults()).vaults, [client]);
  const selected = vaults.data?.find((v) => v.id === props.params.vaultId);
  return (
    <section class="page vault">
      {props.params.vaultId ? <p><Link href="/vault">← All vaults</Link></p> : <h1>Vault</h1>}
      {vaults.error ? <p class="error" role="alert">{vaults.error}</p> : null}
      {props.params.vaultId && vaults.data && !selected ? <p class="error" role="alert">No vault {props.params.vaultId} here.</p> : null}
      {selected ? <VaultDetail key={selected.id} session={props.session} vault={selected} /> : null}
      {!props.params.vaultId ? (
        <>
          {vaults.data?.length === 0 ? <p class="muted">No vaults yet: create one with <code>createVault</code>.</p> : null}
          <ul class="cards">
            {vaults.data?.map((v) => (
              <li key={v.id} class="card">
                <div class="card-title"><Link href={`/vault/${v.id}`}><strong>{v.name}</strong></Link> <span class="badge">{v.role ?? 'admin'}</span></div>
                {v.description ? <p class="muted">{v.description}</p> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

export const vaultsPage: ConsolePage = { path: '/vault', title: 'Vault', nav: 'Vault', component: VaultPage };
export const vaultPage: ConsolePage = { path: '/vault/:vaultId', title: 'Vault', component: VaultPage };
