import { FileCursorStore, SesameClient, type Message } from '@sesamespace/sdk';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { freePort } from './support/cluster.js';
import { spawnServer, type ServerProcess } from './support/process.js';

/**
 * The embedded default (`npm start`: PGlite + in-process bus in one process) through the SDK
 * only: conversation with typing and presence, a reconnect after a long gap, and a restart of
 * the whole process while a client is connected.
 */
describe('realtime end to end against npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-rt-e2e-'));
  const bootstrapKey = randomKey();
  const clients: SesameClient[] = [];
  let server: ServerProcess | undefined;
  let urls: { apiUrl: string; wsUrl: string };
  let ports: { api: number; gateway: number } | undefined;

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => {})));
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start() {
    ports ??= { api: await freePort(), gateway: await freePort() };
    server = spawnServer('start', { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: bootstrapKey, PORT: String(ports.api), GATEWAY_PORT: String(ports.gateway) });
    await server.waitForOutput(/Gateway:\s+ws/);
    urls = { apiUrl: `http://127.0.0.1:${ports.api}`, wsUrl: `ws://127.0.0.1:${ports.gateway}` };
  }

  function track(client: SesameClient) {
    const messages: Message[] = [];
    client.on('message', (event) => { messages.push((event.message ?? event.data)); });
    clients.push(client);
    return messages;
  }

  async function until(condition: () => boolean, what: string, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('two agents converse live with typing and presence, and a reconnect after a long gap gets exactly what was missed', async () => {
    await start();
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    const { agent: alice, apiKey: aliceKey } = await admin.createAgent({ handle: 'alice' });
    const { agent: bob, apiKey: bobKey } = await admin.createAgent({ handle: 'bob' });
    const aliceClient = new SesameClient({ ...urls, apiKey: aliceKey });
    const bobClient = new SesameClient({ ...urls, apiKey: bobKey });
    const aliceGot = track(aliceClient);
    const bobGot = track(bobClient);
    const presence: Array<{ principalId: string; status: string }> = [];
    const typing: string[] = [];
    aliceClient.on('presence', (event) => { presence.push({ principalId: event.principalId, status: event.status }); });
    aliceClient.on('typing', (event) => { typing.push(event.principalId); });
    // A DM first: presence is heard by the principals you share a channel with.
    const { channel } = await aliceClient.createDm(bob.id);
    await aliceClient.connect();
    await bobClient.connect();
    await until(() => presence.some((p) => p.principalId === bob.id && p.status === 'online'), 'bob online');
    expect((await aliceClient.getPresence([bob.id, alice.id])).presence).toEqual([{ principalId: bob.id, status: 'online' }, { principalId: alice.id, status: 'online' }]);
    const foreign = await aliceClient.getPresence(['pr_not_in_this_workspace']).catch((err: unknown) => err);
    expect((foreign as { status?: number }).status).toBe(422);

    bobClient.sendTyping(channel.id);
    await until(() => typing.includes(bob.id), 'bob typing');
    const hello = await aliceClient.sendMessage(channel.id, { content: 'hi bob', kind: 'text' });
    await until(() => bobGot.some((m) => m.id === hello.id), 'bob receives hello');
    const reply = await bobClient.sendMessage(channel.id, { content: 'hi alice', kind: 'text' });
    await until(() => aliceGot.some((m) => m.id === reply.id), 'alice receives the reply');

    // Bob goes away for a while; Alice keeps talking.
    await bobClient.disconnect();
    await until(() => presence.some((p) => p.principalId === bob.id && p.status === 'offline'), 'bob offline');
    const missed: Message[] = [];
    for (let i = 0; i < 40; i++) missed.push(await aliceClient.sendMessage(channel.id, { content: `while away ${i}`, kind: 'text' }));
    const before = bobGot.length;
    await bobClient.connect();
    await until(() => bobGot.length >= before + missed.length, 'bob catches up');
    const after = await aliceClient.sendMessage(channel.id, { content: 'welcome back', kind: 'text' });
    await until(() => bobGot.some((m) => m.id === after.id), 'bob live again');
    expect(bobGot.slice(before).map((m) => m.id)).toEqual([...missed, after].map((m) => m.id));
  }, 120_000);

  it('a client with a file cursor store resumes across its own restart and a restart of the server', async () => {
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    const { agent: carol, apiKey: carolKey } = await admin.createAgent({ handle: 'carol' });
    const { apiKey: daveKey } = await admin.createAgent({ handle: 'dave' });
    const dave = new SesameClient({ ...urls, apiKey: daveKey });
    const { channel } = await dave.createDm(carol.id);
    const cursorFile = join(dataDir, 'carol-cursors.json');

    const first = new SesameClient({ ...urls, apiKey: carolKey, cursorStore: new FileCursorStore(cursorFile) });
    const firstGot = track(first);
    await first.connect();
    const one = await dave.sendMessage(channel.id, { content: 'one', kind: 'text' });
    await until(() => firstGot.some((m) => m.id === one.id), 'carol receives one');
    await first.disconnect();

    // The server restarts (data kept); messages arrive while Carol's process is gone.
    await server!.stop('SIGTERM');
    await start();
    const missed = [];
    for (let i = 0; i < 10; i++) missed.push(await dave.sendMessage(channel.id, { content: `missed ${i}`, kind: 'text' }));

    const second = new SesameClient({ ...urls, apiKey: carolKey, cursorStore: new FileCursorStore(cursorFile), reconnectBaseDelayMs: 100, maxReconnectAttempts: 50 });
    const secondGot = track(second);
    await second.connect();
    await until(() => secondGot.length >= missed.length, 'carol catches up from her stored cursor');

    // The server is killed outright while Carol is connected; she reconnects by herself.
    await server!.stop('SIGKILL');
    await start();
    const later = await dave.sendMessage(channel.id, { content: 'after the crash', kind: 'text' });
    await until(() => secondGot.some((m) => m.id === later.id), 'carol reconnects and receives', 30_000);
    expect(secondGot.map((m) => m.id)).toEqual([...missed, later].map((m) => m.id));
  }, 120_000);
});
