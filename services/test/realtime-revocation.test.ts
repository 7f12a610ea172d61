import { CloseCode } from '@sesamespace/sdk/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishRevocation } from '../src/shared/auth/revocations.js';
import { TokenService } from '../src/shared/auth/tokens.js';
import { startTestApi, type TestApi } from './support/api.js';
import { TestCluster } from './support/cluster.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { TestEventStream } from './support/sse-client.js';
import { hasServices, requireServices, targets } from './support/targets.js';
import { TestSocket } from './support/ws-client.js';

// The periodic credential re-check is pushed out of reach: whatever closes a connection in these
// tests is the revocation or the expiry itself.
const NEVER_RECHECK = { SESAME_CREDENTIAL_RECHECK_INTERVAL_MS: String(24 * 3600 * 1000) };

type Agent = { id: string; apiKey: string };

/** Opens the SSE stream and waits for its `authenticated` event. */
async function openEvents(httpUrl: string, credential: string): Promise<TestEventStream> {
  const stream = await TestEventStream.open(`${httpUrl}/api/v1/events`, { authorization: `Bearer ${credential}` });
  expect(stream.status).toBe(200);
  await stream.waitFor((e) => e.event === 'authenticated');
  return stream;
}

/** The connection ended with 4005: the WebSocket close code, the SSE stream's last `close` event. */
async function expectSessionExpired(socket: TestSocket, events: TestEventStream) {
  expect((await socket.waitForClose()).code).toBe(CloseCode.SessionExpired);
  const last = await events.waitForEnd();
  expect(last).toMatchObject({ event: 'close', data: { code: CloseCode.SessionExpired } });
}

/** The same credential is refused afterwards: 401 on SSE, `4001` on the WebSocket. */
async function expectRefused(wsUrl: string, httpUrl: string, auth: Record<string, string>, bearer: string) {
  const again = await TestEventStream.open(`${httpUrl}/api/v1/events`, { authorization: `Bearer ${bearer}` });
  expect(again.status).toBe(401);
  expect(again.events[0].data.type).toBe('urn:sesame:error:unauthorized');
  const socket = await TestSocket.open(wsUrl);
  socket.send({ type: 'auth', ...auth });
  expect((await socket.waitForClose()).code).toBe(CloseCode.AuthFailed);
}

describe.each(targets())('revocation and expiry end open connections at once, on %s', (target) => {
  let api: TestApi;
  let gateway: TestGateway;
  const sockets: TestSocket[] = [];
  const streams: TestEventStream[] = [];

  const connect = async (auth: Record<string, string>) => {
    const { socket } = await TestSocket.auth(gateway.url, auth);
    sockets.push(socket);
    return socket;
  };
  const events = async (credential: string) => {
    const stream = await openEvents(gateway.httpUrl, credential);
    streams.push(stream);
    return stream;
  };
  const keyIdOf = async (agent: Agent) => {
    const res = await api.call(api.adminKey, 'GET', `/keys?principalId=${agent.id}`);
    return (res.json().data as { id: string; name: string }[]).find((k) => k.name === 'default')!.id;
  };

  beforeAll(async () => {
    api = await startTestApi(target, { ...NEVER_RECHECK, SESAME_RATE_LIMIT_PER_MINUTE: '100000' });
    gateway = await startTestGateway(api.ctx);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const s of streams) await s.close();
    await gateway?.close();
    await api?.close();
  });

  it('closes the WebSocket and SSE stream of a revoked API key with 4005, and only those', async () => {
    const agent = await api.createAgent('revoked-key');
    const other = await api.call(api.adminKey, 'POST', '/keys', { name: 'second', principalId: agent.id });
    expect(other.statusCode).toBe(201);
    const socket = await connect({ apiKey: agent.apiKey });
    const stream = await events(agent.apiKey);
    const untouched = await connect({ apiKey: other.json().data.apiKey });

    const revoke = await api.call(api.adminKey, 'DELETE', `/keys/${await keyIdOf(agent)}`);
    expect(revoke.statusCode).toBe(200);

    await expectSessionExpired(socket, stream);
    expect(socket.frames.at(-1)).toMatchObject({ type: 'error', error: 'the credential was revoked' });
    await expectRefused(gateway.url, gateway.httpUrl, { apiKey: agent.apiKey }, agent.apiKey);
    // The principal's other key was not revoked: its connection carries on.
    untouched.send({ type: 'ping' });
    await untouched.waitFor((f) => f.type === 'pong');
    expect(untouched.closed).toBeUndefined();
  });

  it('closes every connection of a disabled principal with 4005', async () => {
    const agent = await api.createAgent('disabled-principal');
    const socket = await connect({ apiKey: agent.apiKey });
    const stream = await events(agent.apiKey);

    await api.ctx.db.updateTable('principals').set({ disabled_at: new Date() }).where('id', '=', agent.id).execute();
    await publishRevocation(api.ctx, { type: 'principal', principalId: agent.id });

    await expectSessionExpired(socket, stream);
    await expectRefused(gateway.url, gateway.httpUrl, { apiKey: agent.apiKey }, agent.apiKey);
  });

  it('closes every connection of a principal an admin disables through POST /principals/:id/disable', async () => {
    const agent = await api.createAgent('disabled-by-admin');
    const socket = await connect({ apiKey: agent.apiKey });
    const stream = await events(agent.apiKey);

    // Only admins disable; nobody through a workspace they are not in.
    expect((await api.call(agent.apiKey, 'POST', `/principals/${agent.id}/disable`)).statusCode).toBe(403);
    expect((await api.call(api.adminKey, 'POST', '/principals/pr_nobody/disable')).statusCode).toBe(404);
    const res = await api.call(api.adminKey, 'POST', `/principals/${agent.id}/disable`);
    expect(res.statusCode).toBe(200);

    await expectSessionExpired(socket, stream);
    await expectRefused(gateway.url, gateway.httpUrl, { apiKey: agent.apiKey }, agent.apiKey);
    expect((await api.call(api.adminKey, 'POST', `/principals/${agent.id}/enable`)).statusCode).toBe(200);
    expect((await api.call(agent.apiKey, 'GET', '/auth/me')).statusCode).toBe(200);
  });

  it('closes connections opened with an access token when the token expires', async () => {
    const agent = await api.createAgent('expiring-token');
    // Same signing key as the server (its configured secret), a lifetime of a few seconds.
    const shortLived = await TokenService.create(api.ctx.db, api.ctx.config.SESAME_JWT_SECRET, 3);
    const { token } = await shortLived.issue({ principalId: agent.id, workspaceId: (await api.call(agent.apiKey, 'GET', '/auth/me')).json().data.workspaceId, kind: 'agent' });
    const socket = await connect({ token });
    const stream = await events(token);

    await expectSessionExpired(socket, stream);
    expect(socket.frames.at(-1)).toMatchObject({ type: 'error', error: 'the credential expired' });
    await expectRefused(gateway.url, gateway.httpUrl, { token }, token);
  });

  it('ends delivery of a channel at member_removed, on the WebSocket and on SSE', async () => {
    const owner = await api.createAgent('room-owner');
    const guest = await api.createAgent('room-guest');
    const channelId = (await api.call(owner.apiKey, 'POST', '/channels', { kind: 'group', name: 'room', memberIds: [guest.id] })).json().data.id;
    const socket = await connect({ apiKey: guest.apiKey });
    const stream = await events(guest.apiKey);
    const before = (await api.call(owner.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'before' })).json().data;
    await socket.waitFor((f) => f.type === 'message' && f.message.id === before.id);
    await stream.waitFor((e) => e.event === 'message' && e.data.message.id === before.id);

    expect((await api.call(owner.apiKey, 'DELETE', `/channels/${channelId}/members/${guest.id}`)).statusCode).toBe(204);
    const after = (await api.call(owner.apiKey, 'POST', `/channels/${channelId}/messages`, { content: 'after' })).json().data;
    // The owner's own connection receiving `after` shows it was published; then a marker in the
    // guest's inbox (a new channel) proves the guest's connections are past that point too.
    const { socket: ownerSocket } = await TestSocket.auth(gateway.url, { apiKey: owner.apiKey, cursors: { [channelId]: after.seq - 1 } });
    sockets.push(ownerSocket);
    await ownerSocket.waitFor((f) => f.type === 'message' && f.message.id === after.id);
    const marker = (await api.call(owner.apiKey, 'POST', '/channels', { kind: 'group', name: 'marker', memberIds: [guest.id] })).json().data.id;
    await socket.waitFor((f) => f.type === 'channel.member_added' && f.data.channelId === marker);
    await stream.waitFor((e) => e.event === 'channel.member_added' && e.data.data.channelId === marker);

    const wsChannel = socket.events(channelId);
    expect(wsChannel.at(-1)).toMatchObject({ type: 'channel.member_removed', data: { principalId: guest.id } });
    expect(wsChannel.some((f) => f.message?.id === after.id)).toBe(false);
    const sseChannel = stream.events.filter((e) => e.data?.stream === channelId);
    expect(sseChannel.at(-1)).toMatchObject({ event: 'channel.member_removed', data: { data: { principalId: guest.id } } });
    expect(sseChannel.some((e) => e.data.message?.id === after.id)).toBe(false);
  });
});

describe.runIf(hasServices() || Boolean(process.env.CI))('revocation across processes (api and gateway apart, Redis)', () => {
  let cluster: TestCluster;
  const sockets: TestSocket[] = [];
  const streams: TestEventStream[] = [];

  beforeAll(async () => {
    requireServices();
    cluster = await TestCluster.start({ gateways: 1, env: NEVER_RECHECK });
  }, 120_000);
  afterAll(async () => {
    for (const s of sockets) s.close();
    for (const s of streams) await s.close();
    await cluster?.stop();
  });

  const rest = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${cluster.apiUrl}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${cluster.adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() as any };
  };

  it('a key revoked through the api process closes its connections on a gateway process', async () => {
    const created = await rest('POST', '/agents', { handle: 'far-away' });
    expect(created.status).toBe(201);
    const { agent, apiKey } = created.body.data;
    const gatewayUrl = cluster.wsUrls[0];
    const httpUrl = gatewayUrl.replace(/^ws/, 'http');
    const { socket } = await TestSocket.auth(gatewayUrl, { apiKey });
    sockets.push(socket);
    const stream = await openEvents(httpUrl, apiKey);
    streams.push(stream);

    const keys = await rest('GET', `/keys?principalId=${agent.id}`);
    expect((await rest('DELETE', `/keys/${keys.body.data[0].id}`)).status).toBe(200);

    await expectSessionExpired(socket, stream);
    await expectRefused(gatewayUrl, httpUrl, { apiKey }, apiKey);
  });
});
