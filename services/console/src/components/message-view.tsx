import type { Attachment, Message } from '@sesamespace/sdk';
import type { JSX } from 'preact';

/** The kind-specific metadata fields (docs/channels-and-messages.md), read defensively: metadata is free-form JSON. */
interface ToolCall { callId?: string; name?: string; input?: unknown; state?: string; description?: string }
interface ToolResult { callId?: string; output?: unknown; isError?: boolean }
interface PermissionRequest { requestId?: string; action?: string; details?: unknown }
export interface PermissionResponse { requestId?: string; decision?: 'allow' | 'deny'; reason?: string }

function field(message: Message, name: string): Record<string, unknown> | undefined {
  const value = message.metadata[name];
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

// Shapes documented per kind; every field is optional and read as possibly missing.
export const toolCallOf = (m: Message) => field(m, 'toolCall') as ToolCall | undefined;
export const toolResultOf = (m: Message) => field(m, 'toolResult') as ToolResult | undefined;
export const permissionRequestOf = (m: Message) => field(m, 'permissionRequest') as PermissionRequest | undefined;
export const permissionResponseOf = (m: Message) => field(m, 'permissionResponse') as PermissionResponse | undefined;

function Json(props: { value: unknown; label: string }): JSX.Element | null {
  if (props.value === undefined) return null;
  const text = typeof props.value === 'string' ? props.value : JSON.stringify(props.value, null, 2);
  return <details class="json"><summary>{props.label}</summary><pre>{text}</pre></details>;
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function Attachments(props: { attachments: Attachment[] }): JSX.Element | null {
  if (props.attachments.length === 0) return null;
  return (
    <ul class="attachments" aria-label="Attachments">
      {props.attachments.map((a) => (
        <li key={a.id}>
          {a.contentType.startsWith('image/') ? <img src={a.downloadUrl} alt={a.fileName} loading="lazy" /> : null}
          <a href={a.downloadUrl} target="_blank" rel="noopener noreferrer">{a.fileName}</a> <span class="muted">{formatSize(a.size)}</span>
        </li>
      ))}
    </ul>
  );
}

export interface MessageContext {
  /** Tool results by call id, so a call shows its result in place. */
  results: Map<string, Message>;
  /** Answers to permission requests by request id. */
  answers: Map<string, Message>;
  /** Answer a permission request (the human's Allow/Deny). */
  answer: (request: Message, decision: 'allow' | 'deny') => void;
  busy: Set<string>;
}

function Body(props: { message: Message; context: MessageContext }): JSX.Element {
  const { message, context } = props;
  switch (message.kind) {
    case 'tool_call': {
      const call = toolCallOf(message) ?? {};
      const result = call.callId ? context.results.get(call.callId) : undefined;
      const output = result ? toolResultOf(result) : undefined;
      const state = output ? (output.isError ? 'failed' : 'completed') : (call.state ?? 'pending');
      return (
        <div class={`card tool state-${state}`}>
          <div class="card-title"><span class="icon" aria-hidden="true">TOOL</span> <code>{call.name ?? 'tool'}</code> <span class="badge">{state}</span></div>
          {call.description ? <p>{call.description}</p> : null}
          {message.content ? <p>{message.content}</p> : null}
          <Json value={call.input} label="Input" />
          {output ? <Json value={output.output ?? result?.content} label={output.isError ? 'Error' : 'Result'} /> : null}
        </div>
      );
    }
    case 'tool_result': {
      const result = toolResultOf(message) ?? {};
      return (
        <div class={`card tool ${result.isError ? 'state-failed' : 'state-completed'}`}>
          <div class="card-title">Result of <code>{result.callId ?? 'a tool call'}</code></div>
          {message.content ? <p>{message.content}</p> : null}
          <Json value={result.output} label="Output" />
        </div>
      );
    }
    case 'thinking': {
      const text = typeof message.metadata.thinkingText === 'string' ? message.metadata.thinkingText : message.content;
      return <details class="thinking" open={message.streaming}><summary>Thinking{message.streaming ? '…' : ''}</summary><p class="pre">{text}</p></details>;
    }
    case 'status': {
      const status = typeof message.metadata.status === 'string' ? message.metadata.status : message.content;
      const progress = typeof message.metadata.progress === 'number' ? message.metadata.progress : undefined;
      return (
        <div class="status-line" role="status">
          <span aria-hidden="true">●</span> {status || message.content}
          {progress !== undefined ? <progress max={100} value={progress} aria-label={`${progress}%`} /> : null}
        </div>
      );
    }
    case 'permission_request': {
      const request = permissionRequestOf(message) ?? {};
      const answer = request.requestId ? context.answers.get(request.requestId) : undefined;
      const decision = answer ? permissionResponseOf(answer)?.decision : undefined;
      const busy = context.busy.has(message.id);
      return (
        <div class="card permission">
          <div class="card-title"><span class="icon" aria-hidden="true">ASK</span> Permission requested: <code>{request.action ?? 'an action'}</code></div>
          {message.content ? <p>{message.content}</p> : null}
          <Json value={request.details} label="Details" />
          {answer ? (
            <p class={`decision decision-${decision ?? 'unknown'}`}>
              {decision === 'allow' ? 'Allowed' : 'Denied'} by {answer.metadata.senderDisplayName}
            </p>
          ) : (
            <div class="actions">
              <button type="button" class="primary" disabled={busy} onClick={() => { context.answer(message, 'allow'); }}>Allow</button>
              <button type="button" class="danger" disabled={busy} onClick={() => { context.answer(message, 'deny'); }}>Deny</button>
            </div>
          )}
        </div>
      );
    }
    case 'permission_response': {
      const response = permissionResponseOf(message) ?? {};
      return <p class={`decision decision-${response.decision ?? 'unknown'}`}>{response.decision === 'allow' ? 'Allowed' : 'Denied'} request <code>{response.requestId}</code>{response.reason ? `: ${response.reason}` : ''}</p>;
    }
    case 'error': {
      const error = field(message, 'error') as { code?: string; message?: string } | undefined;
      return <div class="card error-card" role="note"><strong>Error{error?.code ? ` ${error.code}` : ''}:</strong> {error?.message ?? message.content}</div>;
    }
    case 'log': {
      const level = typeof message.metadata.logType === 'string' ? message.metadata.logType : 'info';
      const text = typeof message.metadata.logMessage === 'string' ? message.metadata.logMessage : message.content;
      return <pre class={`log log-${level}`}>[{level}] {text}</pre>;
    }
    default:
      return <p class="pre">{message.content}</p>;
  }
}

/** One message, rendered by its kind; a streaming message grows in place (the same element, re-rendered). */
export function MessageView(props: { message: Message; context: MessageContext; onReply?: (message: Message) => void; replies?: number }): JSX.Element {
  const { message } = props;
  const time = new Date(message.createdAt);
  return (
    <article class={`message kind-${message.kind}${message.streaming ? ' streaming' : ''}`} data-seq={message.seq} data-kind={message.kind} aria-label={`${message.metadata.senderDisplayName}, ${message.kind}`}>
      <header>
        <span class={`avatar ${message.metadata.senderKind}`} aria-hidden="true">{message.metadata.senderDisplayName.slice(0, 1).toUpperCase()}</span>
        <strong>{message.metadata.senderDisplayName}</strong>
        <span class="muted">@{message.metadata.senderHandle}</span>
        {message.metadata.senderKind === 'agent' ? <span class="badge">agent</span> : null}
        <time dateTime={message.createdAt} title={time.toLocaleString()}>{time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}</time>
        {message.streaming ? <span class="badge live" aria-label="streaming">streaming…</span> : message.editedAt ? <span class="muted">(edited)</span> : null}
        {props.onReply ? (
          <button type="button" class={`link reply${props.replies ? ' has-replies' : ''}`} onClick={() => { props.onReply?.(message); }}>
            {props.replies ? `${props.replies} ${props.replies === 1 ? 'reply' : 'replies'} · Reply` : 'Reply in thread'}
          </button>
        ) : null}
      </header>
      {message.deletedAt ? <p class="muted">This message was deleted.</p> : <Body message={message} context={props.context} />}
      {message.deletedAt ? null : <Attachments attachments={message.metadata.attachments} />}
    </article>
  );
}
