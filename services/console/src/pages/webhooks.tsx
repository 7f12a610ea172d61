import type { Webhook, WebhookDelivery } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { useClientEvent, useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { Link } from '../router.js';
import type { ConsolePage, PageProps } from './page.js';

/** A signing secret, shown once (create, rotate): never stored by the page. */
function SecretOnce(props: { secret: string; onDone: () => void }): JSX.Element {
  return (
    <div class="notice" role="status">
      <p>The signing secret, shown only now: store it to verify deliveries.</p>
      <p><code class="secret">{props.secret}</code></p>
      <button type="button" class="small" onClick={props.onDone}>I stored it</button>
    </div>
  );
}

/** `/webhooks`: your endpoints, and a form for a new one. */
function WebhooksPage(props: PageProps): JSX.Element {
  const { client } = props.session;
  const list = useLoad(async () => (await client.listWebhooks({ limit: 100 })).webhooks, [client]);
  useClientEvent(client, 'webhook.disabled', () => { list.reload(); });
  const [url, setUrl] = useState('');
  const [types, setTypes] = useState('message, task.*');
  const [secret, setSecret] = useState<string>();
  const [error, setError] = useState<string>();
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const created = await client.createWebhook({ url: url.trim(), eventTypes: types.split(',').map((t) => t.trim()).filter(Boolean) });
      setSecret(created.secret);
      setUrl('');
      list.reload();
    } catch (e) {
      setError(describeError(e));
    }
  };
  return (
    <section class="page">
      <h1>Webhooks</h1>
      {list.error ?? error ? <p class="error" role="alert">{list.error ?? error}</p> : null}
      {secret ? <SecretOnce secret={secret} onDone={() => { setSecret(undefined); }} /> : null}
      <form class="inline-form" onSubmit={(e) => { void create(e); }}>
        <label>Endpoint URL <input type="url" required value={url} onInput={(e) => { setUrl(e.currentTarget.value); }} placeholder="https://example.com/sesame" /></label>
        <label>Event types <input value={types} onInput={(e) => { setTypes(e.currentTarget.value); }} /></label>
        <button type="submit" class="primary">Add endpoint</button>
      </form>
      {list.data?.length === 0 ? <p class="muted">No endpoints yet.</p> : null}
      <ul class="cards">
        {list.data?.map((w) => (
          <li key={w.id} class="card webhook-card">
            <div class="card-title"><Link href={`/webhooks/${w.id}`}>{w.url}</Link> <span class="badge">{w.enabled ? 'enabled' : 'disabled'}</span></div>
            <p class="small muted">{w.eventTypes.join(', ')}</p>
            {w.disabledReason ? <p class="small error">{w.disabledReason}</p> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function DeliveryRow(props: { delivery: WebhookDelivery; onReplay: (d: WebhookDelivery) => void }): JSX.Element {
  const d = props.delivery;
  const last = d.attempts[0] as WebhookDelivery['attempts'][number] | undefined;
  return (
    <tr class={`delivery ${d.status}`}>
      <td>{new Date(d.createdAt).toLocaleString()}</td>
      <td><code>{d.eventType}</code></td>
      <td>{d.status}</td>
      <td>{d.attemptCount}</td>
      <td>{last ? `${last.statusCode ?? '—'} ${last.error ?? ''} (${last.latencyMs} ms)` : ''}</td>
      <td><button type="button" class="small" onClick={() => { props.onReplay(d); }}>Replay</button></td>
    </tr>
  );
}

/** `/webhooks/:webhookId`: one endpoint, its delivery log, replay, a test event, enable/disable, rotate secret. */
function WebhookPage(props: PageProps): JSX.Element {
  const { client } = props.session;
  const { webhookId } = props.params;
  const webhook = useLoad(async () => (await client.getWebhook(webhookId)).webhook, [client, webhookId]);
  const deliveries = useLoad(async () => (await client.listWebhookDeliveries(webhookId, { limit: 50 })).deliveries, [client, webhookId]);
  useClientEvent(client, 'webhook.disabled', (e) => { if (e.data.webhookId === webhookId) webhook.reload(); });
  const [secret, setSecret] = useState<string>();
  const [error, setError] = useState<string>();
  const act = async (run: () => Promise<unknown>) => {
    setError(undefined);
    try { await run(); } catch (e) { setError(describeError(e)); }
    deliveries.reload();
  };
  const w: Webhook | undefined = webhook.data;
  return (
    <section class="page">
      <p><Link href="/webhooks">← Webhooks</Link></p>
      <h1>{w?.url ?? 'Webhook'}</h1>
      {webhook.error ?? deliveries.error ?? error ? <p class="error" role="alert">{webhook.error ?? deliveries.error ?? error}</p> : null}
      {secret ? <SecretOnce secret={secret} onDone={() => { setSecret(undefined); }} /> : null}
      {w ? (
        <>
          <p>{w.enabled ? 'Enabled' : 'Disabled'} · {w.eventTypes.join(', ')}{w.disabledReason ? <span class="error"> · {w.disabledReason}</span> : null}</p>
          <div class="actions">
            <button type="button" onClick={() => { void act(() => client.testWebhook(webhookId)); }}>Send test event</button>
            <button type="button" onClick={() => { void act(async () => { await client.updateWebhook(webhookId, { enabled: !w.enabled }); webhook.reload(); }); }}>{w.enabled ? 'Disable' : 'Enable'}</button>
            <button type="button" class="danger" onClick={() => { void act(async () => { setSecret((await client.rotateWebhookSecret(webhookId)).secret); }); }}>Rotate secret</button>
          </div>
        </>
      ) : null}
      <h2>Deliveries</h2>
      <button type="button" class="small" onClick={deliveries.reload}>Refresh</button>
      {deliveries.data?.length === 0 ? <p class="muted">No deliveries yet.</p> : null}
      <div class="history">
        <table aria-label="Deliveries">
          <thead><tr><th>Created</th><th>Event</th><th>Status</th><th>Attempts</th><th>Last attempt</th><th /></tr></thead>
          <tbody>{deliveries.data?.map((d) => <DeliveryRow key={d.id} delivery={d} onReplay={(x) => { void act(() => client.replayWebhookDelivery(webhookId, x.id)); }} />)}</tbody>
        </table>
      </div>
    </section>
  );
}

export const webhooksPage: ConsolePage = { path: '/webhooks', title: 'Webhooks', nav: 'Webhooks', component: WebhooksPage };
export const webhookPage: ConsolePage = { path: '/webhooks/:webhookId', title: 'Webhook', component: WebhookPage };
