import { SesameClient, generateKeyPair, type Channel, type Message, type Principal } from '@sesamespace/sdk';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { freePort } from './support/cluster.js';
import { spawnServer, type ServerProcess } from './support/process.js';

/** Debian's chromium (`apt-get install -y chromium`, which .ci/run does). */
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
/**
 * The screenshots land in docs/console/ (the README's) only when asked for with
 * `SESAME_UPDATE_SCREENSHOTS=1`; an ordinary run writes them to a temporary directory, so
 * `npm test` leaves the working tree as it found it.
 */
const UPDATE_SCREENSHOTS = process.env.SESAME_UPDATE_SCREENSHOTS === '1';
const SCREENSHOTS = UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL('../../docs/console/', import.meta.url))
  : mkdtempSync(join(tmpdir(), 'sesame-console-shots-'));

/**
 * The console in a real browser against the real `npm start` process (built api + gateway +
 * console), with agents driven through the SDK. Outside CI a machine without chromium skips
 * this file; under CI its absence fails it.
 */
describe.skipIf(!CHROMIUM && process.env.CI !== 'true')('the console in a browser', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-console-'));
  const bootstrapKey = randomKey();
  const human = { email: 'ada@example.com', password: 'correct horse battery staple', handle: 'ada', displayName: 'Ada Lovelace' };
  const clients: SesameClient[] = [];
  const browserErrors: string[] = [];
  let server: ServerProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let urls: { apiUrl: string; wsUrl: string };
  let ada: Principal;

  beforeAll(async () => {
    if (!CHROMIUM) throw new Error('chromium is not installed: apt-get install -y chromium (the console tests need it under CI)');
    const ports = { api: await freePort(), gateway: await freePort() };
    server = spawnServer('start', { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: bootstrapKey, PORT: String(ports.api), GATEWAY_PORT: String(ports.gateway), SESAME_OUTBOUND_ALLOW: '127.0.0.1' }, { entry: 'built' });
    await server.waitForOutput(/Gateway:\s+ws/);
    urls = { apiUrl: `http://127.0.0.1:${ports.api}`, wsUrl: `ws://127.0.0.1:${ports.gateway}` };
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    ada = (await admin.createHuman({ ...human, isAdmin: true })).human;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 800 }, colorScheme: 'light' });
    page.setDefaultTimeout(15_000);
    // A CSP violation or an uncaught error in the page fails the run (checked at the end).
    page.on('console', (message) => { if (message.type() === 'error') browserErrors.push(message.text()); });
    page.on('pageerror', (error) => { browserErrors.push(error.message); });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await browser?.close();
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    if (!UPDATE_SCREENSHOTS) rmSync(SCREENSHOTS, { recursive: true, force: true });
  });

  async function agent(handle: string, displayName: string) {
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    const { agent: principal, apiKey } = await admin.createAgent({ handle, displayName });
    const client = new SesameClient({ ...urls, apiKey });
    clients.push(client);
    return { principal, client };
  }

  async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('shows a sign-in at /, explains a wrong password, and signs a human in', async () => {
    await page.goto(`${urls.apiUrl}/`);
    await page.getByRole('heading', { name: 'Sign in to Sesame' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'sign-in.png') });

    await page.getByLabel('Email').fill(human.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The server's Problem Details, as a sentence.
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/^Unauthorized: /);
    // The browser logs that deliberate 401; nothing else may be logged from here on.
    browserErrors.length = 0;

    await page.getByLabel('Password').fill(human.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Channels' }).waitFor();
    expect(page.url()).toBe(`${urls.apiUrl}/channels`);
    await expect(page.locator('.me').textContent()).resolves.toBe(human.displayName);
    // A reload keeps the tab signed in.
    await page.reload();
    await expect(page.locator('.me').textContent()).resolves.toBe(human.displayName);
  }, 60_000);

  it('shows two agents talking live: a new channel, messages, typing, a streamed edit growing in place, a tool call, a thread, and a permission request the human allows', async () => {
    const alice = await agent('alice', 'Alice');
    const bob = await agent('bob', 'Bob');
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    // The channel appears in the open page's list as it is created (inbox stream).
    const { channel }: { channel: Channel } = await alice.client.createChannel({ kind: 'channel', name: 'release', memberIds: [bob.principal.id, ada.id] });
    await page.getByRole('link', { name: /# release/ }).click();
    await page.getByRole('heading', { name: '# release' }).waitFor();
    const log = page.getByRole('log', { name: 'Messages' });

    await alice.client.sendMessage(channel.id, { content: 'Bob, can you cut the 1.4 release?' });
    await log.getByText('Bob, can you cut the 1.4 release?').waitFor();

    bob.client.sendTyping(channel.id);
    await page.getByText('bob is typing…').waitFor();
    const reply = await bob.client.sendMessage(channel.id, { content: 'On it.' });
    await log.getByText('On it.').waitFor();
    await expect(page.getByText('bob is typing…').count()).resolves.toBe(0);

    // Streaming: one message, edited as it grows; the page updates the same article.
    const streamed = await bob.client.sendMessage(channel.id, { content: 'Changelog: fixes' });
    await bob.client.editMessage(channel.id, streamed.id, { content: 'Changelog: fixes, faster reconnects', streaming: true });
    const article = log.locator(`article[data-seq="${streamed.seq}"]`);
    await article.getByText('streaming…').waitFor();
    await bob.client.editMessage(channel.id, streamed.id, { content: 'Changelog: fixes, faster reconnects, a console', streaming: false });
    await article.getByText('Changelog: fixes, faster reconnects, a console').waitFor();
    await expect(log.getByText(/^Changelog:/).count()).resolves.toBe(1);

    await bob.client.sendMessage(channel.id, { kind: 'thinking', content: '', metadata: { thinkingText: 'Tests first, then the tag.' } });
    await bob.client.sendMessage(channel.id, { kind: 'tool_call', content: '', metadata: { toolCall: { callId: 'call-1', name: 'run_tests', input: { suite: 'all' }, state: 'running' } } });
    await log.locator('.tool').getByText('running').waitFor();
    await bob.client.sendMessage(channel.id, { kind: 'tool_result', content: '', metadata: { toolResult: { callId: 'call-1', output: '412 passed' } } });
    await log.locator('.tool').getByText('completed').waitFor();
    await bob.client.sendMessage(channel.id, { kind: 'status', content: 'Tagging', metadata: { status: 'Tagging v1.4.0', progress: 60 } });
    await log.getByText('Tagging v1.4.0').waitFor();
    await alice.client.sendMessage(channel.id, { content: 'Thanks!', threadRootId: reply.id });
    await log.locator('.replies').getByText('Thanks!').waitFor();
    const { file } = await bob.client.uploadFile({ fileName: 'CHANGELOG.md', contentType: 'text/markdown', data: '# 1.4.0\n', channelId: channel.id });
    await bob.client.sendMessage(channel.id, { kind: 'attachment', content: 'The changelog', attachmentIds: [file.id] });
    await log.getByRole('list', { name: 'Attachments' }).getByRole('link', { name: 'CHANGELOG.md' }).waitFor();

    const request = await bob.client.sendMessage(channel.id, {
      kind: 'permission_request', content: 'Publish 1.4.0 to npm?', metadata: { permissionRequest: { requestId: 'perm-1', action: 'npm publish' } },
    });
    await log.locator('.permission').getByText('npm publish').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'channel.png') });
    await log.locator('.permission').getByRole('button', { name: 'Allow' }).click();
    await log.locator('.permission').getByText('Allowed by Ada Lovelace').waitFor();
    // The agent sees the human's answer through the SDK.
    const answer = await until(async () => (await bob.client.getMessages(channel.id, { limit: 50 })).messages.find((m: Message) => m.kind === 'permission_response'), 'the permission response');
    expect(answer.metadata).toMatchObject({ permissionResponse: { requestId: 'perm-1', decision: 'allow' }, senderHandle: ada.handle });
    expect(answer.threadRootId).toBe(request.id);

    // Presence: both agents are connected.
    await page.locator('.members li[title="Alice (online)"]').waitFor();

    // Phone width, dark.
    await page.setViewportSize({ width: 375, height: 760 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.getByRole('heading', { name: '# release' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'channel-phone-dark.png') });
    await page.setViewportSize({ width: 1200, height: 800 });
    await page.emulateMedia({ colorScheme: 'light' });
  }, 90_000);

  it('shows pending lease requests live with a nav badge; the human approves one (the agent then uses the secret) and denies a broker first use with a reason', async () => {
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    const secret = 'sk_live_console_test_4242';
    const { vault } = await admin.createVault({ name: 'Production', description: 'Payment credentials.' });
    const { item } = await admin.createVaultItem(vault.id, { title: 'Stripe', type: 'api_key', fields: { api_key: secret }, hostname: 'api.stripe.com' });
    await admin.createVaultItem(vault.id, { title: 'GitHub 2FA', type: 'totp', fields: { totp: 'JBSWY3DPEHPK3PXP' } });
    const carol = await agent('carol', 'Carol');
    await admin.addVaultMember(vault.id, carol.principal.id, 'requester');

    const nav = page.getByRole('navigation', { name: 'Console' });
    await nav.getByRole('link', { name: /^Approvals/ }).click();
    await page.getByRole('heading', { name: 'Approvals' }).waitFor();
    await page.getByText('No pending requests.').waitFor();

    // Both requests arrive while the page is open (vault.lease_request on the human's inbox stream).
    const { lease } = await carol.client.requestLease({ itemId: item.id, reason: 'Refund order 1042', ttlSeconds: 900 });
    const { lease: brokerLease } = await carol.client.requestLease({ itemId: item.id, reason: 'First use through the broker', hostname: 'api.stripe.com' });
    const requests = page.getByRole('list', { name: 'Pending requests' });
    const refund = requests.locator('li').filter({ hasText: 'Refund order 1042' });
    const firstUse = requests.locator('li').filter({ hasText: 'First use through the broker' });
    await refund.waitFor();
    await firstUse.getByText('broker first use').waitFor();
    await expect(nav.locator('.nav-badge').textContent()).resolves.toBe('2');
    // Not usable before a human decides.
    await expect(carol.client.useSecret(lease.id)).rejects.toMatchObject({ status: 409 });
    await page.screenshot({ path: join(SCREENSHOTS, 'approvals.png') });

    await refund.getByLabel('Duration').selectOption({ label: '5 min' });
    await refund.getByRole('button', { name: 'Approve' }).click();
    await refund.waitFor({ state: 'detached' });
    await expect(carol.client.useSecret(lease.id)).resolves.toEqual({ fields: { api_key: secret } });
    const approved = (await carol.client.listLeases()).leases.find((l) => l.id === lease.id);
    expect(approved).toMatchObject({ ttlSeconds: 300, decidedBy: ada.id });

    await firstUse.getByLabel('Reason').fill('Not during the freeze');
    await firstUse.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('No pending requests.').waitFor();
    await expect(nav.locator('.nav-badge').count()).resolves.toBe(0);
    const denied = (await carol.client.listLeases()).leases.find((l) => l.id === brokerLease.id);
    expect(denied).toMatchObject({ status: 'denied', decisionNote: 'Not during the freeze' });
    await expect(carol.client.useSecret(brokerLease.id)).rejects.toMatchObject({ status: 409 });

    // The vault: items masked (never the value) until a confirmed reveal; a TOTP code with its countdown.
    await nav.getByRole('link', { name: 'Vault' }).click();
    await page.getByRole('link', { name: 'Production' }).click();
    await page.getByRole('heading', { name: 'Production' }).waitFor();
    const stripe = page.locator('.vault-item').filter({ hasText: 'Stripe' });
    await stripe.getByText('••••4242').waitFor();
    await expect(page.content()).resolves.not.toContain(secret);
    // Members already in the vault are listed (listVaultMembers), not only those changed here.
    await page.locator('.members-list li').filter({ hasText: 'Carol' }).filter({ hasText: 'requester' }).waitFor();
    const github = page.locator('.vault-item').filter({ hasText: 'GitHub 2FA' });
    await github.getByRole('button', { name: 'Show TOTP code' }).click();
    await expect(github.getByLabel('TOTP code').textContent()).resolves.toMatch(/^\d{6}$/);
    await page.screenshot({ path: join(SCREENSHOTS, 'vault.png') });
    await stripe.getByRole('button', { name: 'Reveal…' }).click();
    await stripe.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.content()).resolves.not.toContain(secret);
    await stripe.getByRole('button', { name: 'Reveal…' }).click();
    await stripe.getByRole('button', { name: 'Reveal values' }).click();
    await stripe.getByText(secret).waitFor();
    await stripe.getByRole('button', { name: 'Hide' }).click();
    await expect(page.content()).resolves.not.toContain(secret);

    // A viewer sees the same masked items; a reveal is refused by the server, and the page says so.
    const viewer = { email: 'grace@example.com', password: 'another long passphrase', handle: 'grace', displayName: 'Grace Hopper' };
    const grace = (await admin.createHuman(viewer)).human;
    await admin.addVaultMember(vault.id, grace.id, 'viewer');
    const context = await page.context().browser()?.newContext({ viewport: { width: 1200, height: 800 } });
    if (!context) throw new Error('no browser');
    const other = await context.newPage();
    await other.goto(`${urls.apiUrl}/`);
    await other.getByLabel('Email').fill(viewer.email);
    await other.getByLabel('Password').fill(viewer.password);
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Vault' }).click();
    await other.getByRole('link', { name: 'Production' }).click();
    const masked = other.locator('.vault-item').filter({ hasText: 'Stripe' });
    await masked.getByText('••••4242').waitFor();
    await masked.getByRole('button', { name: 'Reveal…' }).click();
    await masked.getByRole('button', { name: 'Reveal values' }).click();
    await expect(masked.getByRole('alert').textContent()).resolves.toMatch(/^Forbidden: /);
    await expect(other.content()).resolves.not.toContain(secret);
    await context.close();
  }, 90_000);

  it('lists the agents with their presence, and gives admins principals, keys and a verified audit log', async () => {
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Agents' }).click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    await page.locator('.agent-card').filter({ hasText: '@alice' }).getByText('online').waitFor();
    const rita = await agent('rita', 'Rita');
    await rita.client.registerCapabilities([{ namespace: 'code', name: 'review', description: 'Reviews pull requests' }]);
    await page.reload();
    await page.locator('.agent-card').filter({ hasText: '@rita' }).getByText('code.review').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'agents.png') });

    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByRole('cell', { name: '@bob' }).waitFor();
    await page.getByRole('button', { name: 'Verify hash chain' }).click();
    await expect(page.getByText(/Chain intact: \d+ entries verified\./).textContent()).resolves.toBeTruthy();
    await page.screenshot({ path: join(SCREENSHOTS, 'admin.png') });

    expect(browserErrors).toEqual([]);
  }, 60_000);

  it('shows a task an agent creates on the channel board, moves it when the agent claims it, and streams its run', async () => {
    const erin = await agent('erin', 'Erin');
    await erin.client.connect();
    const { channel } = await erin.client.createChannel({ kind: 'channel', name: 'ops', memberIds: [ada.id] });
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Tasks' }).click();
    await page.getByRole('link', { name: '# ops' }).click();
    await page.getByRole('heading', { name: 'Tasks in # ops' }).waitFor();
    const column = (name: string) => page.getByRole('region', { name, exact: true });

    // Created by the agent while the board is open: it appears in Open (task.created).
    const { task } = await erin.client.createTask(channel.id, { title: 'Rotate the TLS certificates', priority: 'high' });
    const card = page.locator(`[data-task="${task.id}"]`);
    await column('Open').locator(`[data-task="${task.id}"]`).waitFor();
    // Open's legal moves come from TASK_TRANSITIONS: claim (its own button), start, cancel; nothing final.
    await card.getByRole('button', { name: 'Claim' }).waitFor();
    await expect(card.getByRole('button', { name: '→ Done' }).count()).resolves.toBe(0);

    // The agent claims it: the card moves to Claimed (task.updated).
    await erin.client.claimTask(channel.id, task.id);
    await column('Claimed').locator(`[data-task="${task.id}"]`).waitFor();
    await expect(column('Open').locator(`[data-task="${task.id}"]`).count()).resolves.toBe(0);
    await erin.client.updateTask(channel.id, task.id, { status: 'in_progress' });
    await column('In progress').locator(`[data-task="${task.id}"]`).waitFor();
    await erin.client.createTask(channel.id, { title: 'Update the runbook' });
    await column('Open').getByText('Update the runbook').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'tasks.png') });

    // The run view streams the task's events as the agent appends them.
    await card.getByRole('link', { name: 'Rotate the TLS certificates' }).click();
    await page.getByRole('heading', { name: 'Rotate the TLS certificates' }).waitFor();
    const events = page.getByRole('list', { name: 'Run events' });
    await erin.client.appendTaskEvent(task.id, { kind: 'status', status: 'Renewing', progress: 40 });
    await events.getByText('Renewing').waitFor();
    await erin.client.appendTaskEvent(task.id, { kind: 'log', logType: 'info', logMessage: 'certbot renew --cert-name api' });
    await events.getByText('[info] certbot renew --cert-name api').waitFor();
    await erin.client.appendTaskEvent(task.id, { kind: 'tool_call', toolCall: { callId: 'c1', name: 'reload_nginx', state: 'completed' } });
    await events.getByText('reload_nginx').waitFor();
    await erin.client.appendTaskEvent(task.id, { kind: 'done', status: 'completed' });
    await events.getByText('Run ended: completed').waitFor();
    await page.locator('.task-status').getByText('Done').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'task-run.png') });
    expect(browserErrors).toEqual([]);
  }, 60_000);

  // The board reads its list while events may already arrive: an agent's task.created reaching
  // the page before a list read without it must not be wiped when that list lands.
  it('keeps a task whose task.created reached the board before the list read without it', async () => {
    const frank = await agent('frank', 'Frank');
    const { channel } = await frank.client.createChannel({ kind: 'channel', name: 'late-list', memberIds: [ada.id] });
    const { task: listed } = await frank.client.createTask(channel.id, { title: 'In the list' });
    let release = () => {};
    const held = new Promise<void>((resolve) => { release = resolve; });
    let fetched = () => {};
    const read = new Promise<void>((resolve) => { fetched = resolve; });
    const list = (url: URL) => url.pathname === `/api/v1/channels/${channel.id}/tasks`;
    await page.route(list, async (route) => {
      const response = await route.fetch();
      fetched();
      await held;
      await route.fulfill({ response });
    });
    try {
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Tasks' }).click();
      await page.getByRole('link', { name: '# late-list' }).click();
      await page.getByRole('heading', { name: 'Tasks in # late-list' }).waitFor();
      await read;
      const open = page.getByRole('region', { name: 'Open', exact: true });
      const { task: early } = await frank.client.createTask(channel.id, { title: 'Created while the list was on its way' });
      await open.locator(`[data-task="${early.id}"]`).waitFor();
      release();
      await open.locator(`[data-task="${listed.id}"]`).waitFor();
      await expect(open.locator(`[data-task="${early.id}"]`).count()).resolves.toBe(1);
    } finally {
      release();
      await page.unroute(list);
    }
    expect(browserErrors).toEqual([]);
  }, 60_000);

  it('shows a synced cron job on the calendar on weekdays only, with its history on click', async () => {
    const dave = await agent('dave', 'Dave');
    const { events } = await dave.client.syncSchedule([{ externalId: 'daily-standup', title: 'Daily Standup Summary', cronExpression: '0 9 * * 1-5', timezone: 'America/New_York' }]);
    await dave.client.recordOccurrence(events[0].id, { scheduledAt: events[0].nextOccurrenceAt ?? new Date().toISOString(), status: 'completed', result: 'Posted standup to #team' });
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Calendar' }).click();
    await page.getByRole('heading', { name: 'Calendar' }).waitFor();
    await page.getByRole('button', { name: 'Week' }).click();
    // Next week is whole and in the future: the job on Monday to Friday, nothing on the weekend.
    await page.getByRole('button', { name: 'Next' }).click();
    const days = page.locator('.calendar .day');
    await days.nth(0).getByText('Daily Standup Summary').waitFor();
    for (let i = 0; i < 7; i++) {
      await expect(days.nth(i).getByText('Daily Standup Summary').count(), `day ${i}`).resolves.toBe(i < 5 ? 1 : 0);
    }
    await page.screenshot({ path: join(SCREENSHOTS, 'calendar-week.png') });
    await page.getByRole('button', { name: 'Month' }).click();
    await page.getByRole('button', { name: 'Today' }).click();
    await page.locator('.calendar.month').getByText('Daily Standup Summary').first().waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'calendar.png') });
    // A run opens the event's recorded history.
    await page.locator('.calendar.month').getByRole('button', { name: /Daily Standup Summary/ }).first().click();
    await page.getByRole('complementary', { name: 'History of Daily Standup Summary' }).getByText('Posted standup to #team').waitFor();
    expect(browserErrors).toEqual([]);
  }, 60_000);

  it('adds a webhook endpoint showing its secret once, sends a test event, replays the delivery and rotates the secret', async () => {
    // A local receiver (allowed by SESAME_OUTBOUND_ALLOW) that records each delivery's webhook-id.
    const received: string[] = [];
    const receiver = createServer((request, response) => {
      received.push(String(request.headers['webhook-id']));
      request.resume();
      request.on('end', () => { response.writeHead(204).end(); });
    });
    await new Promise<void>((resolve) => { receiver.listen(0, '127.0.0.1', resolve); });
    try {
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Webhooks' }).click();
      await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
      await page.getByLabel('Endpoint URL').fill(hookUrl);
      await page.getByLabel('Event types').fill('task.*');
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      const first = await page.locator('code.secret').textContent();
      expect(first).toMatch(/^whsec_/);
      await page.getByRole('button', { name: 'I stored it' }).click();
      await expect(page.locator('code.secret').count()).resolves.toBe(0);

      await page.getByRole('link', { name: hookUrl }).click();
      await page.getByRole('heading', { name: hookUrl }).waitFor();
      await page.getByRole('button', { name: 'Send test event' }).click();
      const deliveries = page.getByRole('table', { name: 'Deliveries' });
      await until(async () => {
        await page.getByRole('button', { name: 'Refresh' }).click();
        return (await deliveries.locator('tr.delivery.succeeded').count()) === 1 ? true : undefined;
      }, 'the test delivery to succeed');
      expect(received).toHaveLength(1);
      // Replay sends the same delivery again, under the same webhook-id.
      await deliveries.getByRole('button', { name: 'Replay' }).click();
      await until(async () => (received.length === 2 ? true : undefined), 'the replayed delivery');
      expect(received[1]).toBe(received[0]);
      await page.screenshot({ path: join(SCREENSHOTS, 'webhooks.png') });

      await page.getByRole('button', { name: 'Rotate secret' }).click();
      const rotated = await page.locator('code.secret').textContent();
      expect(rotated).toMatch(/^whsec_/);
      expect(rotated).not.toBe(first);
      expect(browserErrors).toEqual([]);
    } finally {
      await new Promise((resolve) => { receiver.close(resolve); });
    }
  }, 60_000);

  it('approves an agent that ran sesame login (Mode B): the claim page shows the code and device fingerprint, the human picks the handle and a vault; another claim is denied', async () => {
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    const { vault } = await admin.createVault({ name: 'Claimed tools' });
    const keys = generateKeyPair();
    const fingerprint = createHash('sha256').update(Buffer.from(keys.publicKey, 'base64')).digest('hex').slice(0, 32);
    const start = await SesameClient.openAgentClaim({ apiUrl: urls.apiUrl, publicKey: keys.publicKey, handle: 'claim-suggested' });
    expect(start.verificationUriComplete.endsWith(`/claim/${start.userCode}`)).toBe(true);

    await page.goto(`${urls.apiUrl}/claim/${start.userCode}`);
    await page.getByRole('heading', { name: 'Approve an agent' }).waitFor();
    const card = page.getByLabel('Agent claim');
    await card.getByText(start.userCode).waitFor();
    await card.getByText(fingerprint).waitFor();
    await expect(page.getByLabel('Handle').inputValue()).resolves.toBe('claim-suggested');
    await page.getByLabel('Handle').fill('claim-browser');
    await page.getByLabel('Claimed tools').check();
    await page.screenshot({ path: join(SCREENSHOTS, 'claim.png') });
    await page.getByRole('button', { name: 'Approve agent' }).click();
    await card.getByText('Approved: the device finishes signing in on its own.').waitFor();

    // The device's next poll gets the agent's tokens; the vault grant came with it.
    const answer = await SesameClient.pollAgentClaim({ apiUrl: urls.apiUrl, deviceCode: start.deviceCode, privateKey: keys.privateKey });
    if (answer.status !== 'approved') throw new Error(`expected the claim approved, got ${answer.status}`);
    expect(answer.tokens.principal.handle).toBe('claim-browser');
    const { members } = await admin.listVaultMembers(vault.id);
    expect(members).toContainEqual(expect.objectContaining({ principalId: answer.tokens.principal.id, role: 'requester' }));

    // Another device: denied from the page, its poll then fails with access_denied.
    const other = generateKeyPair();
    const denied = await SesameClient.openAgentClaim({ apiUrl: urls.apiUrl, publicKey: other.publicKey });
    // Admins reach the code form from Approvals.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: /^Approvals/ }).click();
    await page.getByRole('link', { name: 'Approve an agent' }).click();
    await page.getByLabel('Code').fill(denied.userCode.toLowerCase());
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Agent claim').getByText(denied.userCode).waitFor();
    await page.getByLabel('Reason').fill('not one of ours');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('Denied: the device').waitFor();
    await expect(SesameClient.pollAgentClaim({ apiUrl: urls.apiUrl, deviceCode: denied.deviceCode, privateKey: other.privateKey })).rejects.toMatchObject({ status: 403 });
    expect(browserErrors).toEqual([]);
  }, 60_000);
});
