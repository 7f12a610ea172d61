import { TASK_RETRYABLE, TASK_STATUSES, TASK_TRANSITIONS, type Task, type TaskEvent, type TaskStatus } from '@sesamespace/sdk';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useClientEvent, useLoad } from '../hooks.js';
import { describeError } from '../problem.js';
import { Link } from '../router.js';
import type { ConsolePage, PageProps } from './page.js';

const LABELS: Record<TaskStatus, string> = {
  open: 'Open', claimed: 'Claimed', in_progress: 'In progress', blocked: 'Blocked', input_required: 'Input required', done: 'Done', failed: 'Failed', canceled: 'Canceled',
};

/** `/tasks`: the channels whose boards you can open. */
function TaskChannels(props: PageProps): JSX.Element {
  const { client } = props.session;
  const channels = useLoad(async () => (await client.listChannels({ limit: 100 })).channels, [client]);
  return (
    <section class="page">
      <h1>Tasks</h1>
      {channels.error ? <p class="error" role="alert">{channels.error}</p> : null}
      {channels.data?.length === 0 ? <p class="muted">No channels yet: tasks live in a channel.</p> : null}
      <ul class="cards">
        {channels.data?.filter((c) => c.kind !== 'dm').map((c) => (
          <li key={c.id} class="card"><Link href={`/tasks/${c.id}`}>{c.name ? `# ${c.name}` : `${c.kind} ${c.id.slice(-6)}`}</Link></li>
        ))}
      </ul>
    </section>
  );
}

/** `/tasks/:channelId`: the channel's tasks in columns by status, live, with the legal transitions as buttons. */
function TaskBoard(props: PageProps): JSX.Element {
  const { client, me } = props.session;
  const { channelId } = props.params;
  const channel = useLoad(async () => (await client.getChannel(channelId)).channel, [client, channelId]);
  const loaded = useLoad(async () => (await client.listTasks(channelId, { limit: 100 })).tasks, [client, channelId]);
  const [tasks, setTasks] = useState<Map<string, Task>>(new Map());
  const [error, setError] = useState<string>();
  // The list may have been read before a task event that reached us first (the agent created a
  // task while the page loaded): merge, the newest version of each task winning, rather than
  // replace what the events put in. Tasks of another channel (the page's previous one) go.
  useEffect(() => {
    setTasks((old) => {
      const merged = new Map((loaded.data ?? []).map((t) => [t.id, t]));
      for (const [id, task] of old) {
        const listed = merged.get(id);
        if (task.channelId === channelId && (!listed || Date.parse(task.updatedAt) > Date.parse(listed.updatedAt))) merged.set(id, task);
      }
      return merged;
    });
  }, [loaded.data]);
  // The newest version wins: events and our own answers may arrive in either order.
  const put = (task: Task) => {
    if (task.channelId !== channelId) return;
    setTasks((old) => {
      const known = old.get(task.id);
      if (known && Date.parse(known.updatedAt) > Date.parse(task.updatedAt)) return old;
      return new Map(old).set(task.id, task);
    });
  };
  useClientEvent(client, 'task.created', (e) => { put(e.data.task); });
  useClientEvent(client, 'task.updated', (e) => { put(e.data.task); });
  useClientEvent(client, 'task.assigned', (e) => { put(e.data.task); });
  useClientEvent(client, 'resync', () => { loaded.reload(); });

  const act = async (run: () => Promise<{ task: Task }>) => {
    setError(undefined);
    try { put((await run()).task); } catch (e) { setError(describeError(e)); }
  };
  const [title, setTitle] = useState('');
  const create = async (event: Event) => {
    event.preventDefault();
    if (!title.trim()) return;
    await act(() => client.createTask(channelId, { title: title.trim() }));
    setTitle('');
  };
  const all = [...tasks.values()];
  const name = channel.data?.name ? `# ${channel.data.name}` : 'channel';
  return (
    <section class="page wide">
      <p><Link href="/tasks">← All boards</Link></p>
      <h1>Tasks in {name}</h1>
      {loaded.error ?? channel.error ?? error ? <p class="error" role="alert">{loaded.error ?? channel.error ?? error}</p> : null}
      <form class="inline-form" onSubmit={(e) => { void create(e); }}>
        <label>New task <input value={title} onInput={(e) => { setTitle(e.currentTarget.value); }} /></label>
        <button type="submit" class="primary">Create</button>
      </form>
      <div class="board">
        {TASK_STATUSES.map((status) => {
          const column = all.filter((t) => t.status === status).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
          return (
            <section key={status} class="column" aria-label={LABELS[status]} data-status={status}>
              <h2>{LABELS[status]} <span class="muted small">{column.length}</span></h2>
              <ul>
                {column.map((t) => (
                  <li key={t.id} class="card task-card" data-task={t.id}>
                    <div class="card-title"><Link href={`/tasks/${channelId}/${t.id}`}>{t.title}</Link> <span class="badge">{t.priority}</span></div>
                    {t.claimedBy ? <p class="muted small">claimed by {t.claimedBy === me.id ? 'you' : t.claimedBy.slice(-6)}</p> : null}
                    <div class="actions">
                      {t.status === 'open' ? <button type="button" class="small" onClick={() => { void act(() => client.claimTask(channelId, t.id)); }}>Claim</button> : null}
                      {TASK_TRANSITIONS[t.status].filter((to) => !(t.status === 'open' && to === 'claimed')).map((to) => (
                        <button key={to} type="button" class="small" onClick={() => { void act(() => (to === 'canceled' ? client.cancelTask(t.id) : client.updateTask(channelId, t.id, { status: to }))); }}>
                          → {LABELS[to]}
                        </button>
                      ))}
                      {TASK_RETRYABLE.includes(t.status) ? <button type="button" class="small" onClick={() => { void act(() => client.retryTask(t.id)); }}>Retry</button> : null}
                    </div>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
    </section>
  );
}

function RunEvent(props: { event: TaskEvent }): JSX.Element {
  const e = props.event;
  const time = new Date(e.timestamp).toLocaleTimeString();
  let body: JSX.Element;
  switch (e.kind) {
    case 'status': body = <span><strong>{e.status}</strong>{e.progress !== undefined ? <progress max={100} value={e.progress} aria-label="Progress" /> : null}</span>; break;
    case 'log': body = <span class={e.logType === 'error' ? 'error' : undefined}>[{e.logType}] {e.logMessage}</span>; break;
    case 'tool_call': body = <span class="tool">tool <code>{e.toolCall.name}</code> {e.toolCall.state ?? 'pending'}{e.toolCall.input ? <pre>{JSON.stringify(e.toolCall.input, null, 2)}</pre> : null}</span>; break;
    case 'tool_result': body = <span class={e.isError ? 'error' : undefined}>result of <code>{e.callId}</code><pre>{typeof e.output === 'string' ? e.output : JSON.stringify(e.output, null, 2)}</pre></span>; break;
    case 'done': body = <strong>Run ended: {e.status}</strong>; break;
    case 'message': body = <span class="pre">{e.fullText ?? e.textDelta}</span>; break;
    case 'thinking': body = <em class="muted">{e.thinkingText}</em>; break;
    case 'error': body = <span class="error">{e.error}</span>; break;
    case 'permission_request': body = <span>asks permission: {e.description ?? e.requestId}</span>; break;
    case 'permission_response': body = <span>{e.allow ? 'allowed' : 'denied'} {e.requestId}</span>; break;
  }
  return <li class={`run-event kind-${e.kind}`} data-seq={e.seq}><span class="muted small">#{e.seq} run {e.run} · {time} · {e.kind}</span> {body}</li>;
}

/** `/tasks/:channelId/:taskId`: the task and its run events, streamed as they are appended. */
function TaskRun(props: PageProps): JSX.Element {
  const { client } = props.session;
  const { channelId, taskId } = props.params;
  const task = useLoad(async () => (await client.getTask(channelId, taskId)).task, [client, channelId, taskId]);
  const [events, setEvents] = useState<TaskEvent[]>([]);
  const [state, setState] = useState<string>('streaming');
  useClientEvent(client, 'task.updated', (e) => { if (e.data.task.id === taskId) task.reload(); });
  useEffect(() => {
    // An object, so the async loop sees the cleanup's change.
    const guard = { live: true };
    setEvents([]);
    setState('streaming');
    const stream = client.streamTask(taskId);
    void (async () => {
      try {
        for await (const event of stream) {
          if (!guard.live) break;
          setEvents((old) => (old.some((o) => o.seq === event.seq) ? old : [...old, event]));
        }
        if (guard.live) setState('ended');
      } catch (e) {
        if (guard.live) setState(describeError(e));
      }
    })();
    return () => { guard.live = false; void stream.return(undefined); };
  }, [client, taskId]);
  return (
    <section class="page">
      <p><Link href={`/tasks/${channelId}`}>← Board</Link></p>
      <h1>{task.data?.title ?? 'Task'}</h1>
      {task.error ? <p class="error" role="alert">{task.error}</p> : null}
      {task.data ? <p>Status <strong class="task-status">{LABELS[task.data.status]}</strong> · run {task.data.run} · {task.data.priority}{task.data.description ? <> · {task.data.description}</> : null}</p> : null}
      <h2>Run events <span class="badge live">{state === 'streaming' ? 'live' : state}</span></h2>
      {events.length === 0 ? <p class="muted">No run events yet.</p> : null}
      <ol class="run-events" aria-label="Run events">{events.map((e) => <RunEvent key={e.seq} event={e} />)}</ol>
    </section>
  );
}

export const tasksPage: ConsolePage = { path: '/tasks', title: 'Tasks', nav: 'Tasks', component: TaskChannels };
export const taskBoardPage: ConsolePage = { path: '/tasks/:channelId', title: 'Task board', component: TaskBoard };
export const taskRunPage: ConsolePage = { path: '/tasks/:channelId/:taskId', title: 'Task run', component: TaskRun };
