import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

type Agent = { id: string; apiKey: string };

describe.each(targets())('presence heard by channel co-members only (SESAME_PRESENCE_AUDIENCE=channels) on %s', (target) => {
  let api: TestApi;
  let nodes: TestGateway[];
  const sockets: TestSocket[] = [];

  async function connect(node: TestGateway, agent: Agent) {
    const { socket } = await TestSocket.auth(node.url, { apiKey: agent.apiKey });
    sockets.push(socket);
    return socket;
  }
  const presenceOf = (socket: TestSocket, principalId: string) =>
    socket.frames.filter((f) => f.type === 'presence' && f.principalId === principalId).map((f) => f.status as string);

  beforeAll(async () => {
    api = await startTestApi(target, { SESAME_PRESENCE_AUDIENCE: 'channels' });
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
    await daveSocket.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'online');
    // Grace comes online after Erin (presence is published in order): when Frank hears Grace,
    // he would have heard Erin already.
    await connect(nodes[1], grace);
    await frankSocket.waitFor((f) => f.type === 'presence' && f.principalId === grace.id && f.status === 'online');
    expect(presenceOf(frankSocket, erin.id)).toEqual([]);
    expect(presenceOf(daveSocket, grace.id)).toEqual([]);

    // Frank joins the shared channel: from then on he hears Erin.
    expect((await api.call(dave.apiKey, 'POST', `/channels/${shared.id}/members`, { principalId: frank.id })).statusCode).toBe(201);
    await frankSocket.waitFor((f) => f.type === 'channel.member_added' && f.stream === shared.id);
    erinSocket.send({ type: 'presence', status: 'away' });
    await frankSocket.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'away');
    await daveSocket.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'away');
    erinSocket.close();
    await daveSocket.waitFor((f) => f.type === 'presence' && f.principalId === erin.id && f.status === 'offline');
    expect(presenceOf(daveSocket, erin.id)).toEqual(['online', 'away', 'offline']);
  });
});
