import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequestError, SesameClient, SesameError, generateKeyPair } from '@sesamespace/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { randomKey } from './support/api.js';
import { spawnServer, type ServerProcess } from './support/process.js';

/**
 * The foundation's acceptance scenario, driven only through @sesamespace/sdk against a real
 * `npm start` process (embedded PGlite), including a restart.
 */
describe('SDK end to end against npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sesame-e2e-'));
  const bootstrapKey = randomKey();
  let server: ServerProcess | undefined;
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start() {
    server = spawnServer('start', { SESAME_DATA_DIR: dataDir, SESAME_BOOTSTRAP_API_KEY: bootstrapKey, PORT: '0', GATEWAY_PORT: '0' });
    const [, apiUrl] = await server.waitForOutput(/API:\s+(http:\/\/\S+)\/api\/v1/);
    const [, wsUrl] = await server.waitForOutput(/Gateway:\s+(ws:\/\/\S+)\/v1\/connect/);
    return { apiUrl: apiUrl, wsUrl: wsUrl };
  }

  it('two agents (API key and Ed25519) talk in a DM, a third is kept out, and it all survives a restart', async () => {
    let urls = await start();
    const admin = new SesameClient({ ...urls, apiKey: bootstrapKey });
    const keys = generateKeyPair();
    const { agent: alice, apiKey: aliceKey } = await admin.createAgent({ handle: 'alice' });
    const { agent: bob } = await admin.createAgent({ handle: 'bob', publicKey: keys.publicKey });
    const { apiKey: carolKey } = await admin.createAgent({ handle: 'carol' });

    const aliceClient = new SesameClient({ ...urls, apiKey: aliceKey });
    const bobClient = new SesameClient({ ...urls, agent: { handle: 'bob', privateKey: keys.privateKey } });
    const carolClient = new SesameClient({ ...urls, apiKey: carolKey });

    expect((await bobClient.getManifest()).agent.id).toBe(bob.id);
    const { channel } = await aliceClient.createDm(bob.id);
    const { channel: same } = await bobClient.createDm(alice.id);
    expect(same.id).toBe(channel.id);

    const first = await aliceClient.sendMessage(channel.id, { content: 'hi bob', kind: 'text', clientGeneratedId: 'greeting-1' });
    for (let i = 0; i < 12; i++) await bobClient.sendMessage(channel.id, { content: `reply ${i}`, kind: 'text' });
    const again = await aliceClient.sendMessage(channel.id, { content: 'hi bob', kind: 'text', clientGeneratedId: 'greeting-1' });
    expect(again.id).toBe(first.id);

    const contents: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await aliceClient.getMessages(channel.id, { limit: 5, cursor });
      contents.unshift(...page.messages.map((m) => m.content));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(contents).toEqual(['hi bob', ...Array.from({ length: 12 }, (_, i) => `reply ${i}`)]);

    const denied = await carolClient.getMessages(channel.id).catch((err: unknown) => err);
    expect(denied).toBeInstanceOf(SesameError);
    expect([403, 404]).toContain((denied as SesameError).status);
    const sneaky = await carolClient.sendMessage(channel.id, { content: 'let me in', kind: 'text' }).catch((err: unknown) => err);
    expect([403, 404]).toContain((sneaky as SesameError).status);

    const malformed = await aliceClient.sendMessage(channel.id, { content: 42 as unknown as string, kind: 'text' }).catch((err: unknown) => err);
    expect(malformed).toBeInstanceOf(BadRequestError);
    expect((malformed as SesameError).type).toBe('urn:sesame:error:bad-request');

    expect(await server!.stop('SIGTERM')).toBe(0);
    urls = await start();
    const aliceAfter = new SesameClient({ ...urls, apiKey: aliceKey });
    const bobAfter = new SesameClient({ ...urls, agent: { handle: 'bob', privateKey: keys.privateKey } });
    const { messages } = await bobAfter.getMessages(channel.id, { limit: 50 });
    expect(messages.map((m) => m.content)).toEqual(contents);
    expect((await aliceAfter.listChannels()).channels.map((c) => c.id)).toContain(channel.id);
  }, 120_000);
});
