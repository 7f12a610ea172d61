import { inboxStream } from '@sesamespace/sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusMessage } from '../src/shared/bus/index.js';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

/**
 * An API-key handshake reads its streams' heads with the key, before subscribing to them. An
 * event committed (and published) in between reaches no subscription of the session: it must
 * still reach the client at once — not at the hub's next head poll, which this test sets an
 * hour away so that waiting for it times out — exactly once and in order.
 */
describe.each(targets())('an event committed between the key read and the subscription on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_HEAD_POLL_INTERVAL_MS: '3600000' });
    gateway = await startTestGateway(api.ctx);
  });
  afterAll(async () => {
    await gateway?.close();
    await api?.close();
  });

  /**
   * The next handshake of `principalId` runs `during` after its key (and heads) were read and
   * before it subscribes: `during` commits an event, and the hook waits until the bus has
   * delivered its publish (to a probe subscription of its own), so the publish is certainly over
   * before the session subscribes.
   */
  function inTheWindow(principalId: string, during: () => Promise<void>) {
    const startup = gateway.node.startup;
    const original = startup.apiKey.bind(startup);
    startup.apiKey = async (secret) => {
      const key = await original(secret);
      startup.apiKey = original;
      const inbox = inboxStream(principalId);
      let heard: () => void = () => {};
      const published = new Promise<void>((resolve) => { heard = resolve; });
      const unsubscribe = api.ctx.bus.subscribe(inbox, (message: BusMessage) => { if (message.kind === 'event') heard(); });
      await api.ctx.bus.ready();
      await during();
      await published;
      unsubscribe();
      return key;
    };
  }

  it('reaches the client without waiting for a head poll, exactly once and in order', async () => {
    const [owner, agent] = await Promise.all([api.createAgent('window-owner'), api.createAgent('window-agent')]);
    const inbox = inboxStream(agent.id);
    let channelId = '';
    inTheWindow(agent.id, async () => {
      // Adding the agent to a channel writes `channel.member_added` to its inbox.
      const res = await api.call(owner.apiKey, 'POST', '/channels', { kind: 'group', name: 'window', memberIds: [agent.id] });
      expect(res.statusCode).toBe(201);
      channelId = res.json().data.id;
    });
    const { socket, authenticated } = await TestSocket.auth(gateway.url, { apiKey: agent.apiKey });
    try {
      // The heads were read before the event: the session starts below it.
      const start = authenticated.heads[inbox] as number;
      expect(authenticated.heads[channelId]).toBeUndefined();
      const added = await socket.waitFor((f) => f.stream === inbox && f.type === 'channel.member_added', 5_000);
      expect(added.seq).toBe(start + 1);
      expect(added.data).toMatchObject({ channelId, principalId: agent.id });
      // A later event arrives live, after it; a ping round trip shows nothing came twice.
      const removal = await api.call(owner.apiKey, 'DELETE', `/channels/${channelId}/members/${agent.id}`);
      expect(removal.statusCode).toBe(204);
      await socket.waitFor((f) => f.stream === inbox && f.type === 'channel.member_removed', 5_000);
      socket.send({ type: 'ping' });
      await socket.waitFor((f) => f.type === 'pong');
      expect(socket.events(inbox).map((f) => f.seq)).toEqual([start + 1, start + 2]);
    } finally {
      socket.close();
    }
  });
});
