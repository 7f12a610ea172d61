import { SesameClient, type TaskEvent } from '@sesamespace/sdk';

const apiUrl = process.env.SESAME_API_URL ?? 'http://127.0.0.1:13531';
const wsUrl = process.env.SESAME_WS_URL ?? 'ws://127.0.0.1:13532';
const adminKey = process.env.SESAME_ADMIN_KEY;
if (!adminKey) throw new Error('Set SESAME_ADMIN_KEY to the admin key `npm start` printed');

// Two agents: a runner that does code reviews, and a lead who hands out the work.
const admin = new SesameClient({ apiUrl, apiKey: adminKey });
const suffix = Date.now().toString(36);
const runnerAgent = await admin.createAgent({ handle: `runner-${suffix}` });
const leadAgent = await admin.createAgent({ handle: `lead-${suffix}` });
const runner = new SesameClient({ apiUrl, wsUrl, apiKey: runnerAgent.apiKey });
const lead = new SesameClient({ apiUrl, apiKey: leadAgent.apiKey });

// The runner says what it can do; the lead finds it by that and opens a room with it.
await runner.registerCapabilities([{ namespace: 'code', name: 'review', description: 'Review pull requests' }]);
const { agents } = await lead.discoverAgents({ capability: 'code.review', q: suffix });
const { channel } = await lead.createCollaborationChannel({
  name: `reviews-${suffix}`, memberIds: agents.map((a) => a.id), context: 'Review what lands in this channel',
});

/** The runner's work on one task: claim, stream what it does, ask before the risky step, finish. */
async function work(channelId: string, taskId: string): Promise<void> {
  await runner.claimTask(channelId, taskId);                 // a ConflictError if another runner won
  await runner.updateTask(channelId, taskId, { status: 'in_progress' });
  await runner.appendTaskEvent(taskId, { kind: 'status', status: 'processing', progress: 0 });
  await runner.appendTaskEvent(taskId, { kind: 'log', logType: 'info', logMessage: 'Fetching the diff…' });
  await runner.appendTaskEvent(taskId, { kind: 'tool_call', toolCall: { callId: 'tc_1', name: 'Read', input: { path: 'src/auth.ts' }, state: 'completed' } });
  const { event: asked } = await runner.appendTaskEvent(taskId, { kind: 'permission_request', requestId: 'post-review', description: 'Post 3 comments on the PR?' });
  // Wait for the answer in the task's own stream, from just after the question.
  let allowed = false;
  for await (const event of runner.streamTask(taskId, { after: asked.seq })) {
    if (event.kind === 'permission_response' && event.requestId === 'post-review') { allowed = event.allow; break; }
  }
  await runner.appendTaskEvent(taskId, { kind: 'log', logType: 'info', logMessage: allowed ? 'Posted 3 comments' : 'Kept the comments to myself' });
  await runner.appendTaskEvent(taskId, { kind: 'status', status: 'processing', progress: 100 });
  await runner.appendTaskEvent(taskId, { kind: 'done', status: 'completed' });
}

// The runner watches its channels: every new task is a candidate.
const finished = new Promise<void>((resolve, reject) => {
  runner.on('task.created', (event) => {
    const { task } = event.data;
    work(task.channelId, task.id).then(resolve, reject);
  });
});
await runner.connect();

// The lead creates a task, then watches it live and answers the permission request.
const { task } = await lead.createTask(channel.id, { title: 'Review PR #42', priority: 'high' });
const timeout = setTimeout(() => { console.error('the task did not finish within 20 s'); process.exit(1); }, 20_000);
for await (const event of lead.streamTask(task.id)) {
  console.log(describe(event));
  if (event.kind === 'permission_request') await lead.respondToPermission(task.id, event.requestId, { allow: true, reason: 'go ahead' });
}
await finished;
clearTimeout(timeout);
const { task: done } = await lead.getTask(channel.id, task.id);
console.log(`task ${done.title}: ${done.status}, claimed by ${done.claimedBy === runnerAgent.agent.id ? runnerAgent.agent.handle : done.claimedBy}`);
await runner.disconnect();

function describe(event: TaskEvent): string {
  switch (event.kind) {
    case 'status': return `#${event.seq} status ${event.status} ${event.progress ?? ''}%`;
    case 'log': return `#${event.seq} log ${event.logMessage}`;
    case 'tool_call': return `#${event.seq} tool ${event.toolCall.name}`;
    case 'permission_request': return `#${event.seq} asks: ${event.description ?? event.requestId}`;
    case 'permission_response': return `#${event.seq} answer: ${event.allow ? 'allowed' : 'denied'}`;
    default: return `#${event.seq} ${event.kind}`;
  }
}
