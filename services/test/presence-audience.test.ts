import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket, type Frame } from './support/ws-client.js';

type Agent = { id: string; apiKey: string };

/** The presence changes a frame carries: a `presence` frame is one, a `presence_batch` several. */
const changesIn = (f: Frame): Array<{ principalId: string; status: string }> =>
  f.type === 'presence' ? [f as unknown as { principalId: string; status: string }] : f.type === 'presence_batch' ? f.presence : [];
const hears = (principalId: string, status: string) => (f: Frame) => changesIn(f).some((c) => c.principalId === principalId && c.status === status);

describe.each(targets())('presence heard by channel co-members and subscribers only (the default audience) on %s', (target) => {
  let api: TestApi;
  let nodes: TestGateway[];
  const sockets: TestSocket[] = [];

  async function connect(node: TestGateway, agent: Agent) {
    const { socket } = await TestSocket.auth(node.url, { apiKey: agent.apiKey });
    sockets.push(socket);
    return socket;
  }
  const presenceOf = (socket: TestSocket, principalId: string) =>
    socket.frames.flatMap(changesIn).filter((c) => c.principalId === principalId).map((c) => c.status);

  beforeAll(async () => {
    api = await startTestApi(target);
    // Two gateway nodes on one bus: presence crosses nodes as in production.
    nodes = [await startTestGateway(api.ctx), await startTestGateway(api.ctx)];
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const node of nodes) await node.close();
    await api?.close();
  });

  it('announces a principal to those sharing a channel with it, on any node, and to a member added later', async () => {
    const [dave, erin, frank, grace] = await Promise.all(['dave', 'erin', 'frank', 'grace'].map((h) => api.createAgent(h)));
    const shared = (await api.call(dave.apiKey, 'POST', '/channels', { kind: 'group', name: 'shared', memberIds: [erin.id] })).json().data;
    await api.call(frank.apiKey, 'POST', '/channels', { kind: 'group', name: 'elsewhere', memberIds: [grace.id] });
    const daveSocket = await connect(nodes[0], dave);
    const frankSocket = await connect(nodes[0], frank);
    const erinSocket = await connect(nodes[1], erin);
    await daveSocket.waitFor(hears(erin.id, 'online'));
    // Grace comes online after Erin (presence is published in order): when Frank hears Grace,
    // he would have heard Erin already.
    await connect(nodes[1], grace);
    await frankSocket.waitFor(hears(grace.id, 'online'));
    expect(presenceOf(frankSocket, erin.id)).toEqual([]);
    expect(presenceOf(daveSocket, grace.id)).toEqual([]);

    // Frank joins the shared channel: from then on he hears Erin.
    expect((await api.call(dave.apiKey, 'POST', `/channels/${shared.id}/members`, { principalId: frank.id })).statusCode).toBe(201);
    await frankSocket.waitFor((f) => f.type === 'channel.member_added' && f.stream === shared.id);
    erinSocket.send({ type: 'presence', status: 'away' });
    await frankSocket.waitFor(hears(erin.id, 'away'));
    await daveSocket.waitFor(hears(erin.id, 'away'));
    erinSocket.close();
    await daveSocket.waitFor(hears(erin.id, 'offline'));
    expect(presenceOf(daveSocket, erin.id)).toEqual(['online', 'away', 'offline']);
  });

  it('announces a principal to whoever subscribed to it, on another node, until they unsubscribe', async () => {
    const [hana, ivan, judy] = await Promise.all(['hana', 'ivan', 'judy'].map((h) => api.createAgent(h)));
    const hanaSocket = await connect(nodes[0], hana);
    // A second socket of Hana's subscribes to both: it tells the order in which changes happened.
    const watcher = await connect(nodes[0], hana);
    // Hana shares no channel with Ivan or Judy: she hears them only by subscribing.
    hanaSocket.send({ type: 'presence_subscribe', principalIds: [ivan.id, 'pr_in_another_workspace'] });
    watcher.send({ type: 'presence_subscribe', principalIds: [ivan.id, judy.id] });
    for (const s of [hanaSocket, watcher]) s.send({ type: 'ping' });
    await Promise.all([hanaSocket, watcher].map((s) => s.waitFor((f) => f.type === 'pong')));
    const ivanSocket = await connect(nodes[1], ivan);
    await hanaSocket.waitFor(hears(ivan.id, 'online'));
    // Judy comes online before Ivan goes away: when Hana hears that, she would have heard Judy.
    const judySocket = await connect(nodes[1], judy);
    await watcher.waitFor(hears(judy.id, 'online'));
    ivanSocket.send({ type: 'presence', status: 'away' });
    await hanaSocket.waitFor(hears(ivan.id, 'away'));
    expect(presenceOf(hanaSocket, judy.id)).toEqual([]);

    hanaSocket.send({ type: 'presence_unsubscribe', principalIds: [ivan.id] });
    hanaSocket.send({ type: 'presence_subscribe', principalIds: [judy.id] });
    hanaSocket.send({ type: 'ping' });
    await hanaSocket.waitForCount((f) => f.type === 'pong', 2);
    // Ivan goes offline, then Judy goes away: Hana hears Judy, and nothing more of Ivan.
    ivanSocket.close();
    await watcher.waitFor(hears(ivan.id, 'offline'));
    judySocket.send({ type: 'presence', status: 'away' });
    await hanaSocket.waitFor(hears(judy.id, 'away'));
    expect(presenceOf(hanaSocket, ivan.id)).toEqual(['online', 'away']);

    const tooMany = Array.from({ length: 1_000 }, (_, i) => `pr_${i}`);
    hanaSocket.send({ type: 'presence_subscribe', principalIds: tooMany });
    expect((await hanaSocket.waitFor((f) => f.type === 'error')).code).toBe('bad-request');
  });
});
