import type { Channel, ChannelMember, Message, PresenceEvent } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { MessageView, permissionRequestOf, permissionResponseOf, toolCallOf, toolResultOf, type MessageContext } from '../components/message-view.js';
import { useClientEvent, useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { Link } from '../router.js';
import type { Session } from '../session.js';
import type { ConsolePage, PageProps } from './page.js';

function channelLabel(channel: Channel, me: string, members?: ChannelMember[]): string {
  if (channel.name) return channel.kind === 'dm' ? channel.name : `# ${channel.name}`;
  const others = members?.filter((m) => m.principalId !== me).map((m) => m.displayName);
  return others && others.length > 0 ? others.join(', ') : `${channel.kind} ${channel.id.slice(-6)}`;
}

function ChannelList(props: { session: Session; current?: string }): JSX.Element {
  const { client, me } = props.session;
  const channels = useLoad(async () => (await client.listChannels({ limit: 100 })).channels, [client]);
  // Joining or creating a channel arrives on the inbox stream: refresh the list.
  useClientEvent(client, 'channel.created', () => { channels.reload(); });
  useClientEvent(client, 'channel.member_added', (event) => { if (event.data.principalId === me.id) channels.reload(); });
  useClientEvent(client, 'channel.updated', () => { channels.reload(); });
  return (
    <nav class="channel-list" aria-label="Channels">
      <h2>Channels</h2>
      {channels.error ? <p class="error" role="alert">{channels.error}</p> : null}
      {channels.data?.length === 0 ? <p class="muted">No channels yet. Agents you share a channel with appear here as they talk.</p> : null}
      <ul>
        {channels.data?.map((c) => (
          <li key={c.id}>
            <Link href={`/channels/${c.id}`} current={c.id === props.current}>
              {channelLabel(c, me.id)} <span class="muted small">{c.kind} · {c.memberIds.length}</span>
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function ChannelsIndex(props: PageProps): JSX.Element {
  return <div class="split"><ChannelList session={props.session} /><section class="placeholder muted">Pick a channel to watch it live.</section></div>;
}

/** Who is typing, each until their `expiresAt`. */
function useTyping(session: Session, channelId: string): string[] {
  const [typing, setTyping] = useState<Map<string, { handle: string; until: number }>>(new Map());
  useClientEvent(session.client, 'typing', (event) => {
    if (event.channelId !== channelId || event.principalId === session.me.id) return;
    setTyping((old) => new Map(old).set(event.principalId, { handle: event.handle, until: Date.parse(event.expiresAt) }));
  });
  // A message from someone ends their typing at once.
  useClientEvent(session.client, 'message', (event) => {
    if (event.data.channelId !== channelId) return;
    setTyping((old) => { const next = new Map(old); next.delete(event.data.senderId); return next; });
  });
  useEffect(() => {
    if (typing.size === 0) return;
    const timer = setInterval(() => {
      setTyping((old) => new Map([...old].filter(([, t]) => t.until > Date.now())));
    }, 500);
    return () => { clearInterval(timer); };
  }, [typing.size]);
  useEffect(() => { setTyping(new Map()); }, [channelId]);
  return [...typing.values()].map((t) => t.handle);
}

function usePresence(session: Session, members: ChannelMember[] | undefined): Map<string, PresenceEvent['status']> {
  const [presence, setPresence] = useState<Map<string, PresenceEvent['status']>>(new Map());
  const ids = members?.map((m) => m.principalId).join(',') ?? '';
  useEffect(() => {
    if (!ids) return;
    let live = true;
    session.client.getPresence(ids.split(',')).then(
      (result) => { if (live) setPresence(new Map(result.presence.map((p) => [p.principalId, p.status]))); },
      () => { /* presence is decoration: without it members show as unknown */ },
    );
    return () => { live = false; };
  }, [session.client, ids]);
  useClientEvent(session.client, 'presence', (event) => { setPresence((old) => new Map(old).set(event.principalId, event.status)); });
  return presence;
}

/** The channel's messages: history over REST, then live events; refetched when the SDK says events were lost. */
function useMessages(session: Session, channelId: string) {
  const { client } = session;
  const [messages, setMessages] = useState<Map<string, Message>>(new Map());
  const [error, setError] = useState<string>();
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    client.getMessages(channelId, { limit: 100 }).then(
      (page) => {
        if (!live) return;
        // Merged, not replaced: live events that arrived while the page loaded stay.
        setMessages((old) => {
          const next = new Map(page.messages.map((m) => [m.id, m]));
          for (const [id, m] of old) if (m.channelId === channelId && (!next.has(id) || (next.get(id)?.seq ?? 0) < m.seq)) next.set(id, m);
          return next;
        });
        setError(undefined);
      },
      (e: unknown) => { if (live) setError(describeError(e)); },
    );
    return () => { live = false; };
  }, [client, channelId, generation]);
  useEffect(() => { setMessages(new Map()); }, [channelId]);
  const upsert = (message: Message) => {
    if (message.channelId !== channelId) return;
    setMessages((old) => new Map(old).set(message.id, message));
  };
  useClientEvent(client, 'message', (event) => { upsert(event.data); });
  useClientEvent(client, 'message.updated', (event) => { upsert(event.data); });
  useClientEvent(client, 'message.deleted', (event) => {
    if (event.data.channelId !== channelId) return;
    setMessages((old) => {
      const found = old.get(event.data.id);
      return found ? new Map(old).set(found.id, { ...found, content: '', deletedAt: event.data.deletedAt ?? new Date().toISOString() }) : old;
    });
  });
  // Events beyond retention will never arrive: fetch the page again.
  useClientEvent(client, 'resync', () => { setGeneration((g) => g + 1); });
  const sorted = useMemo(() => [...messages.values()].sort((a, b) => a.seq - b.seq), [messages]);
  return { messages: sorted, error, upsert };
}

function Composer(props: { session: Session; channelId: string; thread: Message | undefined; clearThread: () => void; onSent: (m: Message) => void }): JSX.Element {
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [sending, setSending] = useState(false);
  const lastTyping = useRef(0);
  const send = async () => {
    const content = text.trim();
    if (!content || sending) return;
    setSending(true);
    try {
      const sent = await props.session.client.sendMessage(props.channelId, { content, ...(props.thread ? { threadRootId: props.thread.id } : {}) });
      props.onSent(sent);
      setText('');
      setError(undefined);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setSending(false);
    }
  };
  const onInput = (value: string) => {
    setText(value);
    // The gateway keeps typing alive for a few seconds: one signal every 2 s is enough.
    if (value && Date.now() - lastTyping.current > 2000) {
      lastTyping.current = Date.now();
      try { props.session.client.sendTyping(props.channelId); } catch { /* not connected: typing is best effort */ }
    }
  };
  return (
    <form class="composer" onSubmit={(e) => { e.preventDefault(); void send(); }}>
      {props.thread ? (
        <p class="thread-note">Replying in thread to {props.thread.metadata.senderDisplayName} <button type="button" class="link" onClick={props.clearThread}>Cancel</button></p>
      ) : null}
      {error ? <p class="error" role="alert">{error}</p> : null}
      <div class="row">
        <label class="visually-hidden" for="composer-text">Message</label>
        <textarea
          id="composer-text" rows={1} placeholder="Message" title="Enter sends, Shift+Enter starts a new line" value={text}
          onInput={(e) => { onInput(e.currentTarget.value); }}
          onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); void send(); } }}
        />
        <button type="submit" class="primary" disabled={sending || !text.trim()}>Send</button>
      </div>
    </form>
  );
}

function ChannelView(props: PageProps): JSX.Element {
  const { session } = props;
  const channelId = props.params.channelId;
  const { client, me } = session;
  const channel = useLoad(async () => (await client.getChannel(channelId)).channel, [client, channelId]);
  const members = useLoad(async () => (await client.listChannelMembers(channelId)).members, [client, channelId]);
  useClientEvent(client, 'channel.member_added', (e) => { if (e.data.channelId === channelId) members.reload(); });
  useClientEvent(client, 'channel.member_removed', (e) => { if (e.data.channelId === channelId) members.reload(); });
  const { messages, error, upsert } = useMessages(session, channelId);
  const typing = useTyping(session, channelId);
  const presence = usePresence(session, members.data);
  const [thread, setThread] = useState<Message>();
  const [busy, setBusy] = useState<Set<string>>(new Set());
  const [actionError, setActionError] = useState<string>();

  const context: MessageContext = useMemo(() => {
    const results = new Map<string, Message>();
    const answers = new Map<string, Message>();
    for (const m of messages) {
      const result = m.kind === 'tool_result' ? toolResultOf(m) : undefined;
      if (result?.callId) results.set(result.callId, m);
      const answer = m.kind === 'permission_response' ? permissionResponseOf(m) : undefined;
      if (answer?.requestId) answers.set(answer.requestId, m);
    }
    const answer = (request: Message, decision: 'allow' | 'deny') => {
      const requestId = permissionRequestOf(request)?.requestId;
      if (!requestId) return;
      setBusy((b) => new Set(b).add(request.id));
      const action = permissionRequestOf(request)?.action ?? 'the request';
      client.sendMessage(channelId, {
        kind: 'permission_response', content: `${decision === 'allow' ? 'Allowed' : 'Denied'}: ${action}`,
        threadRootId: request.threadRootId ?? request.id, metadata: { permissionResponse: { requestId, decision } },
      }).then(upsert, (e: unknown) => { setActionError(describeError(e)); })
        .finally(() => { setBusy((b) => { const next = new Set(b); next.delete(request.id); return next; }); });
    };
    return { results, answers, answer, busy };
  }, [messages, busy, client, channelId, upsert]);

  // Threads: replies sit under their root; results and answers show inside what they answer.
  const callIds = new Set(messages.map((m) => (m.kind === 'tool_call' ? toolCallOf(m)?.callId : undefined)));
  const requestIds = new Set(messages.map((m) => (m.kind === 'permission_request' ? permissionRequestOf(m)?.requestId : undefined)));
  const shownInPlace = (m: Message) => (m.kind === 'tool_result' && callIds.has(toolResultOf(m)?.callId))
    || (m.kind === 'permission_response' && requestIds.has(permissionResponseOf(m)?.requestId));
  const roots = messages.filter((m) => !m.threadRootId && !shownInPlace(m));
  const replies = new Map<string, Message[]>();
  for (const m of messages) {
    if (m.threadRootId && !shownInPlace(m)) replies.set(m.threadRootId, [...(replies.get(m.threadRootId) ?? []), m]);
  }

  // Stay at the bottom while new messages arrive, unless the reader scrolled up.
  const list = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  useLayoutEffect(() => {
    const el = list.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [messages]);
  useEffect(() => {
    const el = list.current;
    if (!el) return;
    // A narrower window or a growing streamed message changes the height: a reader at the bottom stays there.
    const observer = new ResizeObserver(() => { if (pinned.current) el.scrollTop = el.scrollHeight; });
    observer.observe(el);
    return () => { observer.disconnect(); };
  }, []);

  const title = channel.data ? channelLabel(channel.data, me.id, members.data) : 'Channel';
  useEffect(() => { document.title = `${title} · Sesame`; }, [title]);
  return (
    <div class="split has-channel">
      <ChannelList session={session} current={channelId} />
      <section class="channel" aria-labelledby="channel-title">
        <header class="channel-header">
          <Link href="/channels" class="back">← Channels</Link>
          <h1 id="channel-title">{title}</h1>
          {channel.data?.description ? <p class="muted">{channel.data.description}</p> : null}
          <ul class="members" aria-label="Members">
            {members.data?.map((m) => {
              const status = presence.get(m.principalId) ?? 'offline';
              return <li key={m.principalId} title={`${m.displayName} (${status})`}><span class={`dot ${status}`} aria-hidden="true" />{m.displayName}<span class="visually-hidden"> {status}</span></li>;
            })}
          </ul>
        </header>
        {channel.error ? <p class="error" role="alert">{channel.error}</p> : null}
        {error ? <p class="error" role="alert">{error}</p> : null}
        {actionError ? <p class="error" role="alert">{actionError}</p> : null}
        <div class="messages" ref={list} role="log" aria-live="polite" aria-label="Messages"
          onScroll={(e) => { const el = e.currentTarget; pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40; }}>
          {roots.length === 0 && !error ? <p class="muted placeholder">No messages yet.</p> : null}
          {roots.map((m) => {
            const thread = replies.get(m.id) ?? [];
            return (
              <div class="thread" key={m.id}>
                <MessageView message={m} context={context} replies={thread.length} onReply={setThread} />
                {thread.length > 0 ? (
                  <div class="replies" aria-label="Thread replies">
                    {thread.map((r) => <MessageView key={r.id} message={r} context={context} />)}
                  </div>
                ) : null}
              </div>
            );
          })}
        </div>
        <p class="typing" aria-live="polite">{typing.length > 0 ? `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…` : '\u00a0'}</p>
        <Composer session={session} channelId={channelId} thread={thread} clearThread={() => { setThread(undefined); }} onSent={upsert} />
      </section>
    </div>
  );
}

export const channelsPage: ConsolePage = { path: '/channels', title: 'Channels', nav: 'Channels', component: ChannelsIndex };
export const channelPage: ConsolePage = { path: '/channels/:channelId', title: 'Channel', component: ChannelView };
